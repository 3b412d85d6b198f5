"""The workers' RabbitMQ consumer acknowledges as it must (real RabbitMQ):

- bound to its channel: a message finished after its consumer's connection dropped must not
  acknowledge the delivery a new consumer received under the same tag number;
- coalesced: worker threads that finish together hand their acks to the connection's thread
  together, one wake-up of its I/O loop for the burst instead of one per message, written to
  the socket in one flush, and every message is acknowledged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import dramatiq
import pika
import pytest

from messaging.broker import make_broker
from messaging.channel_bound_acks import DeliveryTag
from messaging.queues import queue_name

pytestmark = pytest.mark.integration

MESSAGES = 40


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


def _received(consumer: Any, count: int) -> list[Any]:
    got: list[Any] = []
    for _ in range(count * 20):
        message = next(consumer)
        if message is not None:
            got.append(message)
        if len(got) == count:
            return got
    raise AssertionError(f"{len(got)} of {count} messages delivered")


def _filled(broker: dramatiq.Broker, kind: str = "events", count: int = MESSAGES) -> str:
    """A queue of the kind declared and holding `count` messages; its name."""
    queue = queue_name(kind)
    broker.declare_queue(queue)
    for n in range(count):
        broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="x", args=(n,), kwargs={}, options={}))
    return queue


def test_an_ack_from_a_closed_channel_leaves_the_new_delivery_unacknowledged(
    broker: dramatiq.Broker, broker_url: str
) -> None:
    queue = _filled(broker, "ingest", 1)

    first = broker.consume(queue, prefetch=1, timeout=200)
    held = _received(first, 1)[0]
    first.connection.close()  # the connection drops while a thread still works on `held`

    second = broker.consume(queue, prefetch=1, timeout=200)
    redelivered = _received(second, 1)[0]
    assert int(redelivered._tag) == int(held._tag) == 1  # type: ignore[attr-defined]
    assert isinstance(redelivered._tag, DeliveryTag)  # type: ignore[attr-defined]

    second.ack(held)  # the old thread finishes: must not ack the new delivery numbered 1
    second.close()  # runs the pending callbacks (an ack would be sent here), then disconnects

    # Nothing was acknowledged, so the message is back in the queue for the next consumer.
    assert _ready(broker_url, queue) == 1


def test_a_delivery_is_still_acknowledged_on_its_own_channel(
    broker: dramatiq.Broker, broker_url: str
) -> None:
    queue = _filled(broker, "ingest", 1)

    consumer = broker.consume(queue, prefetch=1, timeout=200)
    consumer.ack(_received(consumer, 1)[0])
    consumer.close()

    assert _ready(broker_url, queue) == 0


# -- coalesced acks ------------------------------------------------------------------------------


def _counting_handovers(consumer: Any) -> list[int]:
    handovers: list[int] = []
    hand_over = consumer.connection.add_callback_threadsafe

    def counted(callback: Any) -> None:
        handovers.append(1)
        hand_over(callback)

    consumer.connection.add_callback_threadsafe = counted
    return handovers


def test_acks_from_threads_finishing_together_are_handed_over_at_once(
    broker: dramatiq.Broker, broker_url: str
) -> None:
    queue = _filled(broker)
    consumer = broker.consume(queue, prefetch=MESSAGES, timeout=200)
    messages = _received(consumer, MESSAGES)
    handovers = _counting_handovers(consumer)

    together = threading.Barrier(MESSAGES)

    def finish(message: Any) -> None:
        together.wait()
        consumer.ack(message)

    threads = [threading.Thread(target=finish, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= len(handovers) < MESSAGES  # the connection's thread has not run since: one burst
    consumer.close()  # runs the pending callbacks, then disconnects

    assert _ready(broker_url, queue) == 0


def test_a_burst_of_acks_is_written_in_one_flush(broker: dramatiq.Broker, broker_url: str) -> None:
    queue = _filled(broker)
    consumer = broker.consume(queue, prefetch=MESSAGES, timeout=200)
    messages = _received(consumer, MESSAGES)
    flushes: list[int] = []  # the channel's flushes while the handed-over acks are sent
    flush, send_acks = consumer.channel._flush_output, consumer._send_acks
    sending = threading.Event()

    def counted_flush(*args: Any) -> None:
        if sending.is_set():
            flushes.append(1)
        flush(*args)

    def counted_send() -> None:
        sending.set()
        try:
            send_acks()
        finally:
            sending.clear()

    consumer.channel._flush_output = counted_flush
    consumer._send_acks = counted_send
    for message in messages:  # the connection's thread does not run meanwhile: one burst
        consumer.ack(message)
    next(consumer)  # the connection's thread runs the callback
    assert len(flushes) == 1
    consumer.close()

    assert _ready(broker_url, queue) == 0


def test_acks_one_after_another_are_each_sent(broker: dramatiq.Broker, broker_url: str) -> None:
    queue = _filled(broker)
    consumer = broker.consume(queue, prefetch=MESSAGES, timeout=200)
    messages = _received(consumer, MESSAGES)
    handovers = _counting_handovers(consumer)

    for message in messages:
        consumer.ack(message)
        next(consumer)  # the connection's thread runs its callbacks: each ack goes out alone
    assert len(handovers) == MESSAGES
    consumer.close()

    assert _ready(broker_url, queue) == 0


def test_an_unknown_tag_is_not_acknowledged(broker: dramatiq.Broker, broker_url: str) -> None:
    queue = _filled(broker)
    consumer = broker.consume(queue, prefetch=MESSAGES, timeout=200)
    messages = _received(consumer, MESSAGES)
    consumer.ack(messages[0])
    consumer.ack(messages[0])  # twice: the second is a tag the consumer no longer holds
    consumer.close()

    # The other messages were never acknowledged and are back in the queue.
    assert _ready(broker_url, queue) == MESSAGES - 1
