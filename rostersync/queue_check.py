"""What the doctor can learn about RabbitMQ's queues over AMQP alone.

A passive declare says whether a queue exists. AMQP does not report a queue's type, but
RabbitMQ refuses (406 PRECONDITION_FAILED) a declare whose arguments differ from the queue's,
so declaring an existing queue again with exactly the arguments the workers use tells whether
its type is the one QUEUE_TYPE asks for; the declare changes nothing when they agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL
from dramatiq.common import dq_name, xq_name

from messaging import queues
from messaging.broker import connection_parameters
from messaging.rabbitmq import QueueTypedRabbitmqBroker
from rostersync.cli_failures import quiet_pika

NOT_FOUND = 404
PRECONDITION_FAILED = 406
_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)'.*current is (?:the value '(?P<current>[^']*)'|none)"
)


@dataclass(frozen=True)
class QueueState:
    name: str
    declared: bool
    matches: bool | None = None  # declared with the workers' arguments and type (None: unknown)
    detail: str = ""


def expected_queues() -> list[str]:
    """Every queue a worker of this deployment declares (lanes included), without .DQ/.XQ."""
    names = [queues.queue_name(kind) for kind in queues.ALL]
    for lane in queues.dedicated_lanes():
        names += [queues.queue_name(kind, lane) for kind in queues.LANED]
    return names


def inspect_queues(broker_url: str, names: list[str], queue_type: str) -> list[QueueState]:
    """Each queue with its delay and dead-letter queues. Raises pika's errors when unreachable."""
    params = pika.ConnectionParameters(**connection_parameters(broker_url, attempts=1))
    with quiet_pika():
        connection = pika.BlockingConnection(params)
    try:
        return [
            _inspect(connection, name, arguments)
            for base in names
            for name, arguments in _declarations(base, queue_type)
        ]
    finally:
        with quiet_pika():
            connection.close()


def _declarations(base: str, queue_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    # The arguments of QueueTypedRabbitmqBroker's declares (building it opens no connection).
    broker = QueueTypedRabbitmqBroker(queue_type=queue_type, middleware=[], parameters=[{}])
    typed = {"x-queue-type": queues.QUORUM} if queue_type == queues.QUORUM else {}
    yield base, broker._build_queue_arguments(base)
    yield dq_name(base), broker._build_queue_arguments(base)
    yield xq_name(base), {"x-message-ttl": DEAD_MESSAGE_TTL, **typed}


def _inspect(connection: pika.BlockingConnection, name: str, arguments: dict[str, Any]) -> QueueState:
    try:
        connection.channel().queue_declare(queue=name, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND:
            return QueueState(name, declared=False, detail="not declared")
        raise
    try:
        channel = connection.channel()
        channel.queue_declare(queue=name, durable=True, arguments=arguments)
        channel.close()
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == PRECONDITION_FAILED:
            return QueueState(name, declared=True, matches=False, detail=_inequivalent(exc.reply_text))
        raise
    return QueueState(name, declared=True, matches=True)


def _inequivalent(reply: str) -> str:
    # "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'apply' in vhost '/':
    # received none but current is the value 'quorum' of type 'longstr'"
    found = _INEQUIVALENT.search(reply)
    if found is None:
        return reply
    if found["arg"] == "x-queue-type":
        return f"a {found['current'] or queues.CLASSIC} queue"
    return f"declared with another {found['arg']}"
