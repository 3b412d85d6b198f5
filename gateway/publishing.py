"""Publishing from the gateway: off the event loop, and a broker failure becomes 503."""

from __future__ import annotations

from typing import Any

import pika.exceptions
import structlog
from dramatiq.errors import DramatiqError
from starlette.concurrency import run_in_threadpool

from gateway.errors import unavailable
from rostersync.runtime import Runtime

log = structlog.get_logger(__name__)

# What a broker that is down, blocked or refusing (a nack) raises through Dramatiq and pika.
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    DramatiqError,
    pika.exceptions.AMQPError,
    OSError,
)


async def publish(
    rt: Runtime, kind: str, actor_name: str, kwargs: dict[str, Any], *, lane: str | None = None
) -> None:
    """Enqueue and wait for RabbitMQ's confirm; raises a 503 ApiError when it cannot."""
    try:
        # Blocking pika calls (confirms) run in a worker thread, never on the event loop.
        await run_in_threadpool(rt.publish, kind, actor_name, kwargs, lane=lane)
    except PUBLISH_ERRORS as exc:
        log.warning("gateway.publish_failed", kind=kind, actor=actor_name, error_type=type(exc).__name__)
        raise unavailable("message broker unavailable; retry later") from None
