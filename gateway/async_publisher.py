"""Publishing from the event loop: one long-lived AMQP connection and channel with publisher
confirms, many messages in flight, each request awaiting only its own confirm.

The bytes are those Dramatiq's RabbitmqBroker.enqueue sends, so the workers cannot tell the two
apart: the default exchange, the queue's name as routing key, a persistent message, the body
Dramatiq's encoder writes (message id, timestamp and options included), `mandatory` so a message
no queue takes is refused rather than dropped. The queues are declared on each (re)connection
with the arguments the workers declare them with (messaging.rabbitmq).

A dropped connection is opened again by the next publish, so the first request after the broker
comes back succeeds. While RabbitMQ blocks the connection (a memory or disk alarm) nothing is
written: every publish fails at once instead of waiting for the alarm to clear.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import dramatiq
import structlog
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL
from dramatiq.common import dq_name, xq_name

from messaging import queues
from messaging.metrics import queue_kind
from messaging.rabbitmq import QueueTypedRabbitmqBroker
from rostersync.metrics import series

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
CONFIRM_TIMEOUT_SECONDS = 10.0

Declaration = tuple[str, dict[str, Any]]


class BrokerUnavailable(Exception):
    """The message was not confirmed: the broker is down, blocked, refused it or did not answer."""


def declarations(queue_type: str, names: Sequence[str]) -> list[Declaration]:
    """Each queue with its `.DQ` and `.XQ`, with the arguments the Dramatiq broker declares them
    with (RabbitMQ refuses a redeclare whose arguments differ, so they must be equal)."""
    broker = QueueTypedRabbitmqBroker.__new__(QueueTypedRabbitmqBroker)  # argument builders only
    broker.queue_type = queue_type
    broker.max_priority = None
    out: list[Declaration] = []
    for name in names:
        arguments = broker._build_queue_arguments(name)
        xq_arguments = broker._typed({"x-message-ttl": DEAD_MESSAGE_TTL})
        out += [(name, arguments), (dq_name(name), arguments), (xq_name(name), xq_arguments)]
    return out


def gateway_declarations() -> list[Declaration]:
    """Every queue of this deployment, lanes included, as the workers declare them."""
    names = [queues.queue_name(kind) for kind in queues.ALL]
    names += [queues.queue_name(kind, lane) for lane in queues.dedicated_lanes() for kind in queues.LANED]
    return declarations(queues.queue_type(), names)


def _blocked(connection: aio_pika.abc.AbstractConnection | None) -> bool:
    # aiormq answers Connection.Blocked/Unblocked by clearing/setting this event and holds every
    # frame meanwhile; it has no public accessor, and without one a publish would wait silently.
    underlay = getattr(getattr(connection, "transport", None), "connection", None)
    unblocked = getattr(underlay, "_Connection__connection_unblocked", None)
    return isinstance(unblocked, asyncio.Event) and not unblocked.is_set()


class AsyncPublisher:
    def __init__(
        self,
        url: str,
        declare: Sequence[Declaration],
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url
        self._declare = list(declare)
        self._connect_timeout = connect_timeout
        self._confirm_timeout = confirm_timeout
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._lock = asyncio.Lock()

    @property
    def blocked(self) -> bool:
        return _blocked(self._connection)

    async def start(self) -> None:
        """Connect and declare now; a broker that is down is not fatal (the next publish retries)."""
        try:
            await self._open_channel()
        except BrokerUnavailable as exc:
            log.warning("gateway.broker_unavailable_at_start", error=str(exc))

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def publish(self, message: dramatiq.Message) -> None:
        """Publish and wait for this message's confirm; raises BrokerUnavailable otherwise."""
        labels = (queue_kind(message.queue_name), message.actor_name)
        try:
            await self._publish(message)
        except BrokerUnavailable:
            series.PUBLISH_FAILURES.labels(*labels).inc()
            raise
        series.PUBLISHES.labels(*labels).inc()

    async def _publish(self, message: dramatiq.Message) -> None:
        if self.blocked:
            raise BrokerUnavailable("the broker blocked this connection (a resource alarm)")
        channel = self._channel
        if channel is None or channel.is_closed:  # checked here first: no coroutine per publish
            channel = await self._open_channel()
        amqp_message = aio_pika.Message(
            message.encode(),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,  # else aiormq invents one; Dramatiq reads only the body
        )
        try:
            await channel.default_exchange.publish(
                amqp_message, routing_key=message.queue_name, mandatory=True, timeout=self._confirm_timeout
            )
        except (aio_pika.exceptions.DeliveryError, aio_pika.exceptions.PublishError) as exc:
            raise BrokerUnavailable(f"the broker refused the message: {type(exc).__name__}") from None
        except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
            # The connection is in doubt: open a fresh one on the next publish.
            await self._forget(channel)
            raise BrokerUnavailable(f"no confirm: {type(exc).__name__}") from None

    async def _open_channel(self) -> aio_pika.abc.AbstractChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self._lock:  # concurrent requests share one connection attempt
            channel = self._channel
            if channel is not None and not channel.is_closed:
                return channel
            await self._drop()
            connection: aio_pika.abc.AbstractConnection | None = None
            try:
                connection = await aio_pika.connect(self._url, timeout=self._connect_timeout)
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                for name, arguments in self._declare:
                    await channel.declare_queue(name, durable=True, arguments=arguments)
            except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
                if connection is not None:
                    await _close_quietly(connection)
                raise BrokerUnavailable(f"cannot connect: {type(exc).__name__}: {exc}") from None
            self._connection, self._channel = connection, channel
            log.info("gateway.publisher_connected", queues=len(self._declare) // 3)
            return channel

    async def _forget(self, channel: aio_pika.abc.AbstractChannel) -> None:
        async with self._lock:
            if self._channel is channel:  # another request may have reconnected already
                await self._drop()

    async def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            await _close_quietly(connection)


async def _close_quietly(connection: aio_pika.abc.AbstractConnection) -> None:
    with contextlib.suppress(TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError):
        await asyncio.wait_for(connection.close(), timeout=2)
