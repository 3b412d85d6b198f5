"""Message metrics: every publish and publish failure, and each processed message's outcome
and duration, by queue kind and actor (see rostersync.metrics.series).

Like FailureRecord, the middleware comes before RetryPolicy in the middleware list, so its
`after_process_message` runs after RetryPolicy decided between a retry and giving up.
"""

from __future__ import annotations

import os
import time
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy

from messaging import queues
from rostersync.metrics import exposition, series


def queue_kind(queue_name: str) -> str:
    """The queue without the deployment's QUEUE_PREFIX (`ingest`, `apply.big`), so dashboards
    read the same in every deployment."""
    prefix = queues.prefix()
    return queue_name[len(prefix) :] if prefix and queue_name.startswith(prefix) else queue_name


def _labels(message: MessageProxy | dramatiq.Message) -> tuple[str, str]:
    return queue_kind(message.queue_name), message.actor_name


class MessageMetrics(dramatiq.Middleware):
    def __init__(self) -> None:
        # Keyed by message id: one entry per message in flight, removed when it ends.
        self._started: dict[str, float] = {}
        # (queue, actor) → its duration and processed series: `labels()` validates and locks
        # on every call, a cost per message; the children it returns stay valid.
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def _processed(self, message: MessageProxy) -> tuple[Any, Any]:
        key = (message.queue_name, message.actor_name)
        children = self._children.get(key)
        if children is None:
            labels = _labels(message)
            children = self._children[key] = (
                series.MESSAGE_DURATION.labels(*labels),
                series.MESSAGES_PROCESSED.labels(*labels),
            )
        return children

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        duration, processed = self._processed(message)
        started = self._started.pop(message.message_id, None)
        if started is not None:
            duration.observe(time.perf_counter() - started)
        processed.inc()
        # dramatiq.Retry is a deliberate hand-on (a crawl slice, a rate-limit wait), not a failure.
        if exception is None or isinstance(exception, dramatiq.Retry):
            return
        labels = _labels(message)
        series.MESSAGES_FAILED.labels(*labels).inc()
        if message.failed:
            series.MESSAGES_GIVEN_UP.labels(*labels).inc()
        else:
            series.MESSAGES_RETRIED.labels(*labels).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._started.pop(message.message_id, None)
        if message.failed:  # e.g. past its age limit
            series.MESSAGES_GIVEN_UP.labels(*_labels(message)).inc()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        exposition.mark_process_dead(os.getpid())


def count_publishes(broker: dramatiq.Broker) -> dramatiq.Broker:
    """Count each publish by outcome. Dramatiq's middleware hears only of publishes that
    worked, so the broker's `enqueue` itself is wrapped: every path (the gateway, the outbox
    relay, retries, replays) goes through it."""
    enqueue = broker.enqueue

    def counted(message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        try:
            sent = enqueue(message, delay=delay)
        except BaseException:
            series.PUBLISH_FAILURES.labels(*_labels(message)).inc()
            raise
        series.PUBLISHES.labels(*_labels(message)).inc()
        return sent

    broker.enqueue = counted  # type: ignore[method-assign]
    return broker
