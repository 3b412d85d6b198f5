"""Acknowledgements handed to the connection's thread together, not one wake-up each.

pika's connection belongs to the consumer thread, so Dramatiq has every worker thread hand its
ack over with `add_callback_threadsafe`: a lock, a callback and a write to a pipe that wakes the
connection's I/O loop, per message. When a batch of events is applied, its messages are all done at
once and are acked within microseconds of each other. Here the first ack of a burst schedules one
callback and the others join its list; the callback acks them all in the order they came.

The blocking channel's `basic_ack` also runs the I/O loop until its frame is written: a poll and
a send for every ack. The callback queues every ack but the last on the channel beneath
(`_impl`), and the last one's flush writes them all at once.
"""

from __future__ import annotations

import threading
from typing import Any

import pika.exceptions
import structlog
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed

log = structlog.get_logger(__name__)


class CoalescedAcks(_RabbitmqConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks_lock = threading.Lock()
        self._acks: list[int] = []  # tags waiting for the scheduled callback

    def ack(self, message: Any) -> None:
        tag = message._tag
        try:
            self.known_tags.remove(tag)
        except KeyError:  # as Dramatiq: a tag of a connection that has since been reset
            log.warning("rabbitmq.ack_of_unknown_tag", queue=self.queue_name, message_id=message.message_id)
            return
        with self._acks_lock:
            self._acks.append(tag)
            if len(self._acks) > 1:
                return  # a callback is scheduled and takes this tag with the others
        try:
            self.connection.add_callback_threadsafe(self._send_acks)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            with self._acks_lock:
                self._acks.clear()  # the channel is gone: RabbitMQ redelivers its messages
            raise ConnectionClosed(exc) from None

    def _send_acks(self) -> None:
        """In the connection's thread."""
        with self._acks_lock:
            tags, self._acks = self._acks, []
        if not tags:
            return
        for tag in tags[:-1]:
            self.channel._impl.basic_ack(tag)
        self.channel.basic_ack(tags[-1])
