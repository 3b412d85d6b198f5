"""The gateway's asynchronous publisher against the real RabbitMQ: what it publishes is what a
Dramatiq worker consumes, confirms are pipelined, a broker drop is a 503 and the next request
after the broker is back succeeds, and a connection RabbitMQ blocks is answered 503 at once."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.broker import MessageProxy
from pamqp import commands, frame
from starlette.testclient import TestClient

from gateway.app import build_app
from gateway.async_publisher import AsyncPublisher, BrokerUnavailable, gateway_declarations
from gateway.publishing import publisher_of
from gateway.webhook_signature import signature_header
from messaging import queues
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))  # the tests' TCP proxy lives there
from tcp_proxy import TcpProxy
from waiting import wait_until

pytestmark = pytest.mark.integration

SECRET = "async-publisher-secret"


def a_message(queue: str, n: int = 0) -> dramatiq.Message:
    kwargs = {"event": {"id": f"{n:024x}", "type": "users.updated"}, "source": "webhook"}
    return dramatiq.Message(queue_name=queue, actor_name="seen", args=(), kwargs=kwargs, options={})


def get_all(broker_url: str, queue: str) -> list[tuple[Any, Any, bytes]]:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        got = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return got
            got.append((method, properties, body))
    finally:
        connection.close()


def test_a_dramatiq_worker_receives_exactly_what_dramatiq_itself_publishes(
    broker_url: str, queue_prefix: str
) -> None:
    broker = make_broker(broker_url)  # also installs the project's encoder
    queue = queues.queue_name(queues.EVENTS)
    received: list[dramatiq.Message] = []
    done = threading.Event()

    @dramatiq.actor(broker=broker, actor_name="seen", queue_name=queue)
    def seen(event: dict[str, Any], source: str) -> None:
        pass

    class Capture(dramatiq.Middleware):
        def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
            received.append(message._message)
            if len(received) == 2:
                done.set()

    broker.add_middleware(Capture())
    message = a_message(queue)

    async def publish_async() -> None:
        publisher = AsyncPublisher(broker_url, gateway_declarations())
        try:
            await publisher.publish(message)
        finally:
            await publisher.close()

    broker.enqueue(message)  # through Dramatiq and pika
    asyncio.run(publish_async())
    sent = get_all(broker_url, queue)
    assert [body for _, _, body in sent] == [message.encode()] * 2
    assert all(m.routing_key == queue and m.exchange == "" for m, _, _ in sent)
    assert [p.delivery_mode for _, p, _ in sent] == [2, 2]

    broker.enqueue(message)
    asyncio.run(publish_async())
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        assert done.wait(20), "the worker did not receive both messages"
    finally:
        worker.stop()
        broker.close()
    assert received[0].asdict() == received[1].asdict() == message.asdict()


def test_many_messages_in_flight_are_all_confirmed(broker_url: str, queue_prefix: str) -> None:
    queue = queues.queue_name(queues.EVENTS)

    async def burst() -> None:
        publisher = AsyncPublisher(broker_url, gateway_declarations())
        try:
            await asyncio.gather(*(publisher.publish(a_message(queue, n)) for n in range(300)))
        finally:
            await publisher.close()

    asyncio.run(burst())
    bodies = [json.loads(body)["kwargs"]["event"]["id"] for _, _, body in get_all(broker_url, queue)]
    assert sorted(bodies) == [f"{n:024x}" for n in range(300)]


def test_a_message_no_queue_takes_is_refused_not_dropped(broker_url: str, queue_prefix: str) -> None:
    async def publish_unroutable() -> None:
        publisher = AsyncPublisher(broker_url, gateway_declarations())
        try:
            with pytest.raises(BrokerUnavailable, match="refused"):
                await publisher.publish(a_message(f"{queue_prefix}nobody-listens"))
            await publisher.publish(a_message(queues.queue_name(queues.EVENTS)))  # the channel lives on
        finally:
            await publisher.close()

    asyncio.run(publish_unroutable())


@contextmanager
def gateway_through(proxy: TcpProxy, broker_url: str) -> Iterator[tuple[Runtime, TestClient]]:
    url = broker_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    assert url != broker_url
    rt = Runtime(Settings(broker_url=url, webhook_secrets=(SECRET,)), broker=make_broker(url))
    with TestClient(build_app(rt)) as client:
        yield rt, client


def post_event(client: TestClient, n: int) -> Any:
    event_id = f"{int(time.time()):08x}{n:016x}"
    school = {"id": f"{n:024x}", "name": "Pineapple"}
    event = {
        "id": event_id,
        "type": "schools.updated",
        "created": "2024-09-03T16:09:40.000Z",
        "data": {"object": school, "previous_attributes": {"name": "Old"}},
    }
    raw = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        "Clever-Signature": signature_header(SECRET, int(time.time()), raw),
    }
    return client.post("/webhooks/clever", content=raw, headers=headers)


def test_a_broker_drop_is_a_503_and_the_next_request_after_it_returns_succeeds(
    broker_url: str, queue_prefix: str
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    proxy.start()
    try:
        with gateway_through(proxy, broker_url) as (_, client):
            assert post_event(client, 1).status_code == 202
            proxy.stop()
            refused = post_event(client, 2)
            assert refused.status_code == 503 and refused.headers["Retry-After"]
            assert "error" in refused.json()
            proxy.start()
            assert post_event(client, 3).status_code == 202
    finally:
        proxy.stop()
    events = get_all(broker_url, queues.queue_name(queues.EVENTS))
    assert [json.loads(body)["kwargs"]["event"]["data"]["object"]["id"] for _, _, body in events] == [
        f"{1:024x}",
        f"{3:024x}",
    ]


def test_a_connection_the_broker_blocks_is_answered_503_at_once(broker_url: str, queue_prefix: str) -> None:
    """A memory alarm cannot be raised on a RabbitMQ others share, so the proxy hands the client
    the frame RabbitMQ sends then (connection.blocked): aio-pika's own handling of it is tested."""
    proxy = TcpProxy("127.0.0.1", 5672)
    proxy.start()
    try:
        with gateway_through(proxy, broker_url) as (rt, client):
            assert post_event(client, 1).status_code == 202  # connected, and quiet between frames
            publisher = publisher_of(rt)
            assert publisher is not None and not publisher.blocked
            to_client = proxy._sockets[0]  # the accepted socket: the gateway's side
            to_client.sendall(frame.marshal(commands.Connection.Blocked(reason="low on memory"), 0))
            wait_until(lambda: publisher.blocked, "the publisher to see the block")
            refused = post_event(client, 2)
            assert refused.status_code == 503 and refused.headers["Retry-After"]
            to_client.sendall(frame.marshal(commands.Connection.Unblocked(), 0))
            wait_until(lambda: not publisher.blocked, "the publisher to see the unblock")
            assert post_event(client, 3).status_code == 202
    finally:
        proxy.stop()
    # Nothing of the refused request was held back to be sent once the block lifted.
    events = get_all(broker_url, queues.queue_name(queues.EVENTS))
    assert [json.loads(body)["kwargs"]["event"]["data"]["object"]["id"] for _, _, body in events] == [
        f"{1:024x}",
        f"{3:024x}",
    ]


@pytest.mark.parametrize("queue_type", [queues.CLASSIC, queues.QUORUM])
def test_queues_are_declared_with_the_arguments_the_workers_use(
    broker_url: str, queue_prefix: str, queue_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RabbitMQ refuses (406) a redeclare whose arguments differ: the workers' broker declares
    every queue first, then the publisher declares them again and publishes."""
    monkeypatch.setenv("QUEUE_TYPE", queue_type)
    broker = make_broker(broker_url)
    try:
        for kind in queues.ALL:
            broker.declare_queue(queues.queue_name(kind), ensure=True)
    finally:
        broker.close()

    async def publish() -> None:
        publisher = AsyncPublisher(broker_url, gateway_declarations())
        try:
            await publisher.publish(a_message(queues.queue_name(queues.EVENTS)))
        finally:
            await publisher.close()

    asyncio.run(publish())
    assert len(get_all(broker_url, queues.queue_name(queues.EVENTS))) == 1
