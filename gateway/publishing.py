"""Publishing from the gateway: a broker failure becomes 503.

With RabbitMQ, the app's lifespan opens one AsyncPublisher (gateway.async_publisher) and requests
publish on the event loop, each awaiting its own confirm. Without one (the embedded broker, or an
app whose lifespan did not run) the Dramatiq broker publishes from a worker thread, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import dramatiq
import pika.exceptions
import structlog
from dramatiq.errors import DramatiqError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from gateway.async_publisher import AsyncPublisher, BrokerUnavailable, gateway_declarations
from gateway.errors import unavailable
from messaging import queues
from rostersync.runtime import Runtime

log = structlog.get_logger(__name__)

# What a broker that is down, blocked or refusing (a nack) raises through Dramatiq and pika.
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    DramatiqError,
    pika.exceptions.AMQPError,
    OSError,
    BrokerUnavailable,
)

# The running app's publisher, by runtime (one per gateway process; tests may run several apps).
_publishers: dict[int, AsyncPublisher] = {}


def publisher_of(rt: Runtime) -> AsyncPublisher | None:
    return _publishers.get(id(rt))


def lifespan(rt: Runtime) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Open the asynchronous publisher with the app and close it with the app (RabbitMQ only)."""

    @asynccontextmanager
    async def span(app: Starlette) -> AsyncIterator[None]:
        url = rt.settings.broker_url
        if url is None:
            yield
            return
        publisher = AsyncPublisher(url, gateway_declarations())
        await publisher.start()
        _publishers[id(rt)] = publisher
        try:
            yield
        finally:
            _publishers.pop(id(rt), None)
            await publisher.close()

    return span


def _message(kind: str, actor_name: str, kwargs: dict[str, Any], lane: str | None) -> dramatiq.Message:
    name = queues.queue_name(kind, lane)
    return dramatiq.Message(queue_name=name, actor_name=actor_name, args=(), kwargs=kwargs, options={})


async def publish(
    rt: Runtime, kind: str, actor_name: str, kwargs: dict[str, Any], *, lane: str | None = None
) -> None:
    """Enqueue and wait for RabbitMQ's confirm; raises a 503 ApiError when it cannot."""
    await publish_all(rt, [(kind, actor_name, kwargs)], lane=lane)


async def publish_all(
    rt: Runtime, items: Sequence[tuple[str, str, dict[str, Any]]], *, lane: str | None = None
) -> None:
    """Publish every message concurrently; returns once all are confirmed, else a 503 ApiError.
    When one fails, the others may still have been confirmed and will be processed: a sender's
    retry of the whole batch is safe only because what is published is idempotent (event ids)."""
    publisher = publisher_of(rt)
    if publisher is not None:
        failures = await _publish_concurrently(publisher, [_message(k, a, kw, lane) for k, a, kw in items])
    else:
        failures = []
        for kind, actor, kwargs in items:
            try:
                # Blocking pika calls (confirms) run in a worker thread, never on the event loop.
                await run_in_threadpool(rt.publish, kind, actor, kwargs, lane=lane)
            except PUBLISH_ERRORS as exc:
                failures.append(exc)
                break
    for failure in failures:
        if not isinstance(failure, PUBLISH_ERRORS):
            raise failure  # a bug, not the broker: the app's error handler reports it
    if failures:
        first = failures[0]
        log.warning(
            "gateway.publish_failed",
            failed=len(failures),
            of=len(items),
            error_type=type(first).__name__,
            error=str(first) if isinstance(first, BrokerUnavailable) else "",
        )
        raise unavailable("message broker unavailable; retry later")


async def _publish_concurrently(
    publisher: AsyncPublisher, messages: list[dramatiq.Message]
) -> list[BaseException]:
    """What failed; a single message is awaited in place (gather would wrap it in a task)."""
    if len(messages) == 1:
        try:
            await publisher.publish(messages[0])
        except Exception as exc:  # sorted by the caller: broker failures become 503, bugs raise
            return [exc]
        return []
    results = await asyncio.gather(*(publisher.publish(m) for m in messages), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]
