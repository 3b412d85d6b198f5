"""Record every message that gives up in the failed_messages table, with its cause, so that
operators can list, replay or drop it (`rostersync failed`, `/v1/failed-messages`).

Its `after_process_message` must run after RetryPolicy's (which decides whether the message
failed for good), so it comes before RetryPolicy in the middleware list: Dramatiq calls the
`after_*` hooks in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from sqlalchemy import Engine

from messaging.failure_cause import describe
from messaging.retry_policy import ATTEMPTS, BOOKKEEPING, CAUSE, FIRST_FAILED_AT
from storage import failed_messages
from storage.failed_messages import Failure

log = structlog.get_logger(__name__)


def _runtime_engine() -> Engine:
    from rostersync.runtime import runtime  # the worker's own runtime, built after the broker

    return runtime().engine


class FailureRecord(dramatiq.Middleware):
    def __init__(self, engine: Callable[[], Engine] = _runtime_engine) -> None:
        self._engine = engine

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        failure = failure_of(message, exception)
        try:
            with self._engine().begin() as conn:
                row_id = failed_messages.record(conn, failure)
        except Exception as exc:  # the database may be what failed: say so, never lose the line
            # The message is still dead-lettered to its queue's .XQ, which keeps it for 7 days.
            log.error(
                "failed_message.not_recorded",
                message_id=failure.message_id,
                queue=failure.queue,
                actor=failure.actor,
                cause=failure.cause,
                error=describe(exc),
            )
            return
        log.warning(
            "failed_message.recorded",
            failed_message_id=row_id,
            message_id=failure.message_id,
            queue=failure.queue,
            actor=failure.actor,
            district_id=failure.district_id,
            attempts=failure.attempts,
            cause=failure.cause,
        )


def failure_of(message: MessageProxy | dramatiq.Message, exception: BaseException) -> Failure:
    options = message.options
    now = datetime.now(UTC)
    first_ms = options.get(FIRST_FAILED_AT)
    first = datetime.fromtimestamp(first_ms / 1000, UTC) if isinstance(first_ms, int | float) else now
    kwargs = message.kwargs or {}
    return Failure(
        message_id=message.message_id,
        queue=message.queue_name,
        actor=message.actor_name,
        district_id=_district_id(kwargs),
        idempotency_key=_idempotency_key(kwargs),
        cause=str(options.get(CAUSE) or describe(exception)),
        attempts=int(options.get(ATTEMPTS, 1)),
        first_failed_at=first,
        last_failed_at=now,
        message=replayable(message),
    )


def replayable(message: MessageProxy | dramatiq.Message) -> dict[str, Any]:
    """The message as first sent: without the retry bookkeeping (and its traceback)."""
    return {
        "queue_name": message.queue_name,
        "actor_name": message.actor_name,
        "args": list(message.args),
        "kwargs": dict(message.kwargs or {}),
        "options": {k: v for k, v in message.options.items() if k not in BOOKKEEPING},
        "message_id": message.message_id,
        "message_timestamp": message.message_timestamp,
    }


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _district_id(kwargs: Mapping[str, Any]) -> str | None:
    if "district_id" in kwargs:
        return _text(kwargs["district_id"], 64)
    event = kwargs.get("event")
    if isinstance(event, Mapping):
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if isinstance(obj, Mapping):
            if str(event.get("type", "")).startswith("districts."):
                return _text(obj.get("id"), 64)
            return _text(obj.get("district"), 64)
    return None


def _idempotency_key(kwargs: Mapping[str, Any]) -> str | None:
    """The key the message is applied under: a page's `key`, an event's id (lower-cased, as
    the events service records it)."""
    if "key" in kwargs:
        return _text(kwargs["key"], 200)
    event = kwargs.get("event")
    if isinstance(event, Mapping) and isinstance(event.get("id"), str):
        return _text(event["id"].lower(), 200)
    return None
