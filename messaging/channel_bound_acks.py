"""Acknowledgements that go only to the channel that delivered the message.

RabbitMQ numbers delivery tags per channel, from 1. When a worker's connection drops, Dramatiq
opens a new consumer (a new channel, tags from 1 again) while its threads still hold messages of
the old one; RabbitMQ has already requeued those. Dramatiq then acks a finished old message on
the new consumer by its number, which acknowledges whichever new delivery has that number: a
message still being worked on (a crawl, say) is gone from the queue, and a worker killed next
loses it for good. Here every tag remembers its consumer, and an ack or nack of a message from
an earlier consumer is skipped: RabbitMQ redelivers that message, and the idempotency keys make
the second delivery harmless.
"""

from __future__ import annotations

from typing import Any

import structlog
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer, _RabbitmqMessage

log = structlog.get_logger(__name__)


class DeliveryTag(int):
    """A delivery tag (still an int for pika and Dramatiq's bookkeeping) and the consumer that
    received it."""

    consumer: object

    def __new__(cls, tag: int, consumer: object) -> DeliveryTag:
        bound = super().__new__(cls, tag)
        bound.consumer = consumer
        return bound


class ChannelBoundAcks(_RabbitmqConsumer):
    """Put before the other consumer classes in the bases."""

    def __next__(self) -> _RabbitmqMessage | None:
        received: _RabbitmqMessage | None = super().__next__()
        if received is not None:
            received._tag = DeliveryTag(received._tag, self)
        return received

    def _delivered_here(self, message: Any, verb: str) -> bool:
        if getattr(message._tag, "consumer", self) is self:
            return True
        log.warning(
            "rabbitmq.stale_delivery_skipped",
            verb=verb,
            queue=self.queue_name,
            message_id=message.message_id,
            reason="delivered on a channel that has since closed; RabbitMQ redelivers it",
        )
        return False

    def ack(self, message: Any) -> None:
        if self._delivered_here(message, "ack"):
            super().ack(message)

    def nack(self, message: Any) -> None:
        if self._delivered_here(message, "nack"):
            super().nack(message)
