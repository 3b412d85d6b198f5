"""The Dramatiq broker: RabbitMQ with publisher confirms, or an in-process stub when embedded."""

from __future__ import annotations

from typing import Any

import dramatiq
import pika
import structlog
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from messaging import queues
from messaging.encoder import OrjsonEncoder
from messaging.log_context import LogContext

log = structlog.get_logger(__name__)

# Retries stay well under RabbitMQ's 30-minute consumer_timeout, because Dramatiq holds delayed
# messages unacknowledged until they are due.
MAX_RETRIES = 8
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 10 * 60 * 1000
TIME_LIMIT_MS = 30 * 60 * 1000


def _middleware() -> list[dramatiq.Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
        LogContext(),
    ]


def connection_parameters(broker_url: str, *, attempts: int = 3) -> dict[str, Any]:
    """pika parameters from a URL, with timeouts so no call can hang forever."""
    url = pika.URLParameters(broker_url)
    return {
        "host": url.host,
        "port": url.port,
        "virtual_host": url.virtual_host,
        "credentials": url.credentials,
        "ssl_options": url.ssl_options,
        "heartbeat": 30,
        "connection_attempts": attempts,
        "retry_delay": 1,
        "blocked_connection_timeout": 30,
        "socket_timeout": 10,
        "stack_timeout": 15,
    }


def make_broker(broker_url: str | None, *, connection_attempts: int = 3) -> dramatiq.Broker:
    """`connection_attempts=1` suits a publisher that answers a caller: fail fast, answer 503."""
    dramatiq.set_encoder(OrjsonEncoder())
    if broker_url is None:
        broker: dramatiq.Broker = StubBroker(middleware=_middleware(), fail_fast_default=False)
    else:
        # An explicit RabbitmqBroker gets none of get_broker()'s connection defaults; without
        # blocked_connection_timeout a publisher blocked by a RabbitMQ alarm would wait forever.
        broker = RabbitmqBroker(
            confirm_delivery=True,
            middleware=_middleware(),
            parameters=[connection_parameters(broker_url, attempts=connection_attempts)],
        )
    for lane in queues.dedicated_lanes():
        for kind in queues.LANED:
            broker.declare_queue(queues.queue_name(kind, lane))
    return broker


def install_broker(broker_url: str | None, *, connection_attempts: int = 3) -> dramatiq.Broker:
    """Create the process's broker and make it Dramatiq's global one (before actors load)."""
    broker = make_broker(broker_url, connection_attempts=connection_attempts)
    dramatiq.set_broker(broker)
    return broker
