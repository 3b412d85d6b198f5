"""Keep message payloads out of logs. Dramatiq formats a whole message (every argument: staff
pages with emails, Clever events, OAuth codes) into some of its log lines; this filter swaps
each message for its actor name and id before the line is rendered."""

from __future__ import annotations

import logging
from typing import Any

from dramatiq import Message
from dramatiq.broker import MessageProxy


def _label(value: Any) -> Any:
    if isinstance(value, Message | MessageProxy):
        return f"{value.actor_name}#{value.message_id}"
    return value


class RedactMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_label(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _label(arg) for key, arg in record.args.items()}
        return True
