"""The Dramatiq broker: RabbitMQ with publisher confirms, or an in-process stub when embedded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
import pika
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)
from sqlalchemy import Engine

from messaging import queues
from messaging.batching import BatchedActors
from messaging.encoder import OrjsonEncoder
from messaging.failure_record import FailureRecord
from messaging.frozen_heap import FrozenHeap
from messaging.heartbeat import Heartbeat
from messaging.log_context import LogContext
from messaging.metrics import MessageMetrics, count_publishes
from messaging.prefetch import Prefetch
from messaging.rabbitmq import QueueTypedRabbitmqBroker
from messaging.retry_policy import RetryPolicy

log = structlog.get_logger(__name__)

# Retries stay well under RabbitMQ's 30-minute consumer_timeout, because Dramatiq holds delayed
# messages unacknowledged until they are due (infrastructure errors: see messaging.retry_policy).
MAX_RETRIES = 8
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 10 * 60 * 1000
TIME_LIMIT_MS = 30 * 60 * 1000
DEFAULT_RETRY_INFRA_HOURS = 24.0


def _middleware(
    retry_infra_hours: float, engine: Callable[[], Engine] | None, heartbeat_file: str, prefetch: int
) -> list[dramatiq.Middleware]:
    beat: list[dramatiq.Middleware] = [Heartbeat(heartbeat_file)] if heartbeat_file else []
    return [
        *beat,
        Prefetch(prefetch),
        FrozenHeap(),
        AgeLimit(),
        TimeLimit(time_limit=TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        # These two before RetryPolicy, so that their after-hooks run after RetryPolicy's decision.
        MessageMetrics(),
        FailureRecord(engine) if engine is not None else FailureRecord(),
        RetryPolicy(
            infra_budget_ms=int(retry_infra_hours * 3_600_000),
            max_retries=MAX_RETRIES,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=MAX_BACKOFF_MS,
        ),
        LogContext(),
        BatchedActors(),
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


def make_broker(
    broker_url: str | None,
    *,
    connection_attempts: int = 3,
    retry_infra_hours: float = DEFAULT_RETRY_INFRA_HOURS,
    failure_engine: Callable[[], Engine] | None = None,
    heartbeat_file: str = "",
    prefetch: int = 0,
) -> dramatiq.Broker:
    """`connection_attempts=1` suits a publisher that answers a caller: fail fast, answer 503.
    Failed messages are recorded through `failure_engine` (default: the process's runtime).
    `prefetch`: messages a worker holds per queue (0: Dramatiq's twice its threads)."""
    dramatiq.set_encoder(OrjsonEncoder())
    middleware = _middleware(retry_infra_hours, failure_engine, heartbeat_file, prefetch)
    if broker_url is None:
        broker: dramatiq.Broker = StubBroker(middleware=middleware, fail_fast_default=False)
    else:
        # An explicit RabbitmqBroker gets none of get_broker()'s connection defaults; without
        # blocked_connection_timeout a publisher blocked by a RabbitMQ alarm would wait forever.
        broker = QueueTypedRabbitmqBroker(
            queue_type=queues.queue_type(),
            confirm_delivery=True,
            middleware=middleware,
            parameters=[connection_parameters(broker_url, attempts=connection_attempts)],
        )
    for lane in queues.dedicated_lanes():
        for kind in queues.LANED:
            broker.declare_queue(queues.queue_name(kind, lane))
    return count_publishes(broker)


def install_broker(
    broker_url: str | None,
    *,
    connection_attempts: int = 3,
    retry_infra_hours: float = DEFAULT_RETRY_INFRA_HOURS,
    heartbeat_file: str = "",
    prefetch: int = 0,
) -> dramatiq.Broker:
    """Create the process's broker and make it Dramatiq's global one (before actors load)."""
    broker = make_broker(
        broker_url,
        connection_attempts=connection_attempts,
        retry_infra_hours=retry_infra_hours,
        heartbeat_file=heartbeat_file,
        prefetch=prefetch,
    )
    dramatiq.set_broker(broker)
    return broker
