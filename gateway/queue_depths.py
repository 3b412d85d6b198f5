"""Messages waiting in each queue, for the operator console: RabbitMQ's own count (a passive
queue_declare, which creates nothing), or the in-process broker's queues."""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import pika
import pika.exceptions
import structlog
from dramatiq.brokers.stub import StubBroker

from messaging import queues
from rostersync.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int | None  # None: the queue does not exist (yet), or the broker did not answer
    delayed: int | None


def queue_names() -> list[str]:
    lanes = queues.dedicated_lanes()
    names = [queues.queue_name(kind) for kind in queues.ALL]
    names += [queues.queue_name(kind, lane) for lane in lanes for kind in queues.LANED]
    return names


def depths(rt: Runtime) -> tuple[list[QueueDepth], str | None]:
    """(depth per queue, why they are unknown, if they are)."""
    names = queue_names()
    if rt.settings.embedded_broker:
        return _stub_depths(rt.broker or dramatiq.get_broker(), names), None
    try:
        return _rabbitmq_depths(rt.settings.broker_url or "", names), None
    except (pika.exceptions.AMQPError, OSError) as exc:
        log.warning("ops.queue_depths_unavailable", error_type=type(exc).__name__)
        return [QueueDepth(name, None, None) for name in names], "RabbitMQ did not answer"


def _stub_depths(broker: dramatiq.Broker, names: list[str]) -> list[QueueDepth]:
    found = broker.queues if isinstance(broker, StubBroker) else {}
    return [
        QueueDepth(
            name,
            found[name].qsize() if name in found else None,
            found[f"{name}.DQ"].qsize() if f"{name}.DQ" in found else None,
        )
        for name in names
    ]


def _rabbitmq_depths(url: str, names: list[str]) -> list[QueueDepth]:
    params = pika.URLParameters(url)
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    connection = pika.BlockingConnection(params)
    try:
        return [
            QueueDepth(name, _count(connection, name), _count(connection, f"{name}.DQ")) for name in names
        ]
    finally:
        connection.close()


def _count(connection: pika.BlockingConnection, name: str) -> int | None:
    # A passive declare of a missing queue closes its channel: one channel per question.
    channel = connection.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).method.message_count)
    except pika.exceptions.ChannelClosedByBroker:
        return None
    finally:
        if channel.is_open:
            channel.close()
