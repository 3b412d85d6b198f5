"""Bind the message being processed to every log line the actor writes."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy


class LogContext(dramatiq.Middleware):
    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
        bound: dict[str, Any] = {"message_id": message.message_id, "actor": message.actor_name}
        kwargs = message.kwargs or {}
        for key in ("district_id", "run_id"):
            if key in kwargs:
                bound[key] = kwargs[key]
        structlog.contextvars.bind_contextvars(**bound)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
