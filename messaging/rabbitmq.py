"""Dramatiq's RabbitMQ broker with two changes: the queue type (classic or quorum) and messages
that belong to the queue they were consumed from.

Dramatiq declares each queue itself, with its delay queue (`.DQ`) and dead-letter queue (`.XQ`);
the arguments it passes are built here, so a quorum deployment gets all three as quorum queues.
Quorum queues take no `x-max-priority` (we never set one), and support message TTL (the `.XQ`'s
seven days) from RabbitMQ 3.10 on.
"""

from __future__ import annotations

from typing import Any

from dramatiq.brokers.rabbitmq import (
    DEAD_MESSAGE_TTL,
    RabbitmqBroker,
    _RabbitmqConsumer,
    _RabbitmqMessage,
)
from dramatiq.common import xq_name

from messaging.channel_bound_acks import ChannelBoundAcks
from messaging.coalesced_acks import CoalescedAcks
from messaging.queues import CLASSIC, QUORUM


class _QueueOwnedConsumer(_RabbitmqConsumer):
    """A message names its queue in its body, and another service writes that body by hand: the
    documented sync request says `"queue_name": "ingest"` whatever QUEUE_PREFIX is. Dramatiq looks
    up the consumer (to ack) and the retry queue by that name, so a body naming another queue than
    the one it came from crashed the worker thread and left the message unacknowledged. The queue a
    message was consumed from is the truth."""

    def __next__(self) -> _RabbitmqMessage | None:
        received: _RabbitmqMessage | None = super().__next__()
        if received is None or received.queue_name == self.queue_name:
            return received
        owned = received._message.copy(queue_name=self.queue_name)
        return _RabbitmqMessage(received.redelivered, received._tag, owned)


class _Consumer(ChannelBoundAcks, CoalescedAcks, _QueueOwnedConsumer):
    """Acks bound to their channel (see channel_bound_acks) and handed over together
    (coalesced_acks), messages owned by their queue."""


class QueueTypedRabbitmqBroker(RabbitmqBroker):
    def __init__(self, *, queue_type: str = CLASSIC, **kwargs: Any) -> None:
        if queue_type not in (CLASSIC, QUORUM):
            raise ValueError(f"queue type must be {CLASSIC} or {QUORUM}, not {queue_type!r}")
        self.queue_type = queue_type
        super().__init__(**kwargs)

    @property
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return _Consumer

    def _typed(self, arguments: dict[str, Any]) -> dict[str, Any]:
        # A classic queue is declared without the argument, as before, so queues declared by an
        # earlier release are redeclared with equal arguments.
        return {**arguments, "x-queue-type": QUORUM} if self.queue_type == QUORUM else arguments

    def _build_queue_arguments(self, queue_name: str) -> dict[str, Any]:
        return self._typed(super()._build_queue_arguments(queue_name))

    def _declare_xq_queue(self, queue_name: str) -> Any:
        if self.queue_type == CLASSIC:
            return super()._declare_xq_queue(queue_name)
        arguments = self._typed({"x-message-ttl": DEAD_MESSAGE_TTL})
        return self.channel.queue_declare(queue=xq_name(queue_name), durable=True, arguments=arguments)
