"""Queues as operators and other services meet them: QUEUE_TYPE=quorum declares every queue (with
its delay and dead-letter queues) as a quorum queue and a sync runs on them; the README's sync
request, published by hand under a QUEUE_PREFIX, starts a run (on classic queues, the default)."""

from __future__ import annotations

import json
import re
import signal
import uuid
from pathlib import Path
from typing import Any

import pika
import pytest
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL
from pika.exceptions import ChannelClosedByBroker

from messaging import queues

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def declared_type(broker_url: str, name: str, arguments: dict[str, Any]) -> str:
    """Redeclare `name` as a quorum queue with `arguments`: RabbitMQ accepts only an equivalent
    declaration, and refuses (406) one whose x-queue-type differs from the queue's own."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue=name, passive=True)  # it exists (404 otherwise)
        try:
            channel.queue_declare(queue=name, durable=True, arguments={**arguments, "x-queue-type": "quorum"})
            return "quorum"
        except ChannelClosedByBroker as exc:
            assert exc.reply_code == 406 and "x-queue-type" in exc.reply_text, exc.reply_text
            return "classic"
    finally:
        if connection.is_open:
            connection.close()


def test_quorum_queues_carry_a_sync(make_stack: Any, broker_url: str, queue_prefix: str) -> None:
    stack = make_stack(schools=2, extra_env={"QUEUE_TYPE": "quorum"})
    stack.connect_via_oauth()
    (run,) = stack.wait_for_runs(stack.sim.district.id, 1)
    assert run["status"] == "succeeded", run["error"]

    for kind in queues.ALL:
        name = f"{queue_prefix}{kind}"
        dead_letter = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{name}.XQ"}
        assert declared_type(broker_url, name, dead_letter) == "quorum", name
        assert declared_type(broker_url, f"{name}.DQ", dead_letter) == "quorum", f"{name}.DQ"
        xq = {"x-message-ttl": DEAD_MESSAGE_TTL}
        assert declared_type(broker_url, f"{name}.XQ", xq) == "quorum", f"{name}.XQ"


def readme_sync_request() -> str:
    """The JSON block of the README's "Requesting a sync from another service", as written."""
    text = README.read_text()
    section = text.split("## Requesting a sync from another service", 1)[1]
    match = re.search(r"```json\n(.*?)```", section, re.S)
    assert match, "the README shows the sync request's JSON"
    return match.group(1)


def test_the_readme_sync_request_starts_a_run_under_a_prefix(
    make_stack: Any, broker_url: str, queue_prefix: str
) -> None:
    stack = make_stack(schools=2)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)

    body = readme_sync_request()
    body = body.replace("<Clever district id>", district_id).replace("<uuid>", str(uuid.uuid4()))
    assert json.loads(body)["queue_name"] == "ingest"  # the body names the queue without the prefix
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(
        exchange="",
        routing_key=f"{queue_prefix}ingest",
        body=body.encode(),
        properties=pika.BasicProperties(delivery_mode=2),
        mandatory=True,
    )
    connection.close()

    _, second = stack.wait_for_runs(district_id, 2)
    assert second["status"] == "succeeded", second["error"]
    assert second["requested_by"] == "billing"
    # The request was acknowledged: once the worker stopped (an unacknowledged message would go
    # back to its queue), nothing is left in the queue or dead-lettered.
    stack.kill(stack.processes[0], signal.SIGTERM)  # make_stack starts the worker first
    probe = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = probe.channel()
    for name in (f"{queue_prefix}ingest", f"{queue_prefix}ingest.XQ"):
        assert channel.queue_declare(queue=name, passive=True).method.message_count == 0, name
    probe.close()

    # Without QUEUE_TYPE the queues stay classic, as every earlier release declared them.
    name = f"{queue_prefix}ingest"
    dead_letter = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{name}.XQ"}
    assert declared_type(broker_url, name, dead_letter) == "classic"
