"""A message finished after its consumer's connection dropped must not acknowledge the delivery
that a new consumer received under the same tag number (real RabbitMQ)."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pika
import pytest

from messaging.broker import make_broker
from messaging.channel_bound_acks import DeliveryTag
from messaging.queues import queue_name

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(broker_url: str, queue_prefix: str) -> Iterator[dramatiq.Broker]:
    built = make_broker(broker_url)
    yield built
    built.close()


def _ready(broker_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        return connection.channel().queue_declare(queue=queue, passive=True).method.message_count
    finally:
        connection.close()


def _next_message(consumer: object) -> object:
    for _ in range(50):
        received = next(consumer)  # type: ignore[call-overload]
        if received is not None:
            return received
    raise AssertionError("no message was delivered")


def test_an_ack_from_a_closed_channel_leaves_the_new_delivery_unacknowledged(
    broker: dramatiq.Broker, broker_url: str
) -> None:
    queue = queue_name("ingest")
    broker.declare_queue(queue)
    broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="x", args=(), kwargs={}, options={}))

    first = broker.consume(queue, prefetch=1, timeout=200)
    held = _next_message(first)
    first.connection.close()  # the connection drops while a thread still works on `held`

    second = broker.consume(queue, prefetch=1, timeout=200)
    redelivered = _next_message(second)
    assert int(redelivered._tag) == int(held._tag) == 1  # type: ignore[attr-defined]
    assert isinstance(redelivered._tag, DeliveryTag)  # type: ignore[attr-defined]

    second.ack(held)  # the old thread finishes: must not ack the new delivery numbered 1
    second.close()  # runs the pending callbacks (an ack would be sent here), then disconnects

    # Nothing was acknowledged, so the message is back in the queue for the next consumer.
    assert _ready(broker_url, queue) == 1


def test_a_delivery_is_still_acknowledged_on_its_own_channel(
    broker: dramatiq.Broker, broker_url: str
) -> None:
    queue = queue_name("ingest")
    broker.declare_queue(queue)
    broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="x", args=(), kwargs={}, options={}))

    consumer = broker.consume(queue, prefetch=1, timeout=200)
    consumer.ack(_next_message(consumer))
    consumer.close()

    assert _ready(broker_url, queue) == 0
