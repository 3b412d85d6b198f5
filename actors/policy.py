"""Which failures are worth retrying: Clever or the network being briefly unavailable."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from clever_client.errors import CleverUnavailable

TRANSIENT = (CleverUnavailable, OperationalError, ConnectionError, TimeoutError)
MAX_ATTEMPTS = 8


def retry_transient(retries: int, exception: BaseException) -> bool:
    return isinstance(exception, TRANSIENT) and retries < MAX_ATTEMPTS
