"""The failures an operator can expect from a command, each told in one line instead of a traceback.

A failure not listed here is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from rostersync.crypto import KeyringError
from rostersync.settings import ConfigError

EXIT_FAILED = 1
EXIT_CONFIGURATION = 2


class CommandFailed(Exception):
    """An expected refusal or failure of a command: its message is the one line to print."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(exc: BaseException) -> tuple[str, int] | None:
    """(what to print, exit code) for an expected failure; None for anything else."""
    import dramatiq.errors
    import httpx
    import pika.exceptions
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, CommandFailed):
        return str(exc), exc.exit_code
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}", EXIT_CONFIGURATION
    if isinstance(exc, KeyringError):
        return f"ENCRYPTION_KEYS: {exc}", EXIT_CONFIGURATION
    if isinstance(exc, DBAPIError):
        return database_failure(exc), EXIT_FAILED
    if isinstance(exc, pika.exceptions.AMQPError | dramatiq.errors.ConnectionError):
        return broker_failure(exc), EXIT_FAILED
    if isinstance(exc, httpx.TransportError):
        url = exc.request.url if _has_request(exc) else "a server"
        return f"could not reach {url}: {_first_line(exc) or type(exc).__name__}", EXIT_FAILED
    return None


def database_failure(exc: BaseException) -> str:
    reason = _first_line(getattr(exc, "orig", None) or exc)
    lowered = reason.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"the database has no schema or an old one ({reason}); run `rostersync db upgrade`"
    return f"database unreachable: {reason}; check DATABASE_URL and that the database is running"


def broker_failure(exc: BaseException) -> str:
    reason = _first_line(exc) or type(exc).__name__
    return f"message broker unreachable: {reason}; check BROKER_URL and that RabbitMQ is running"


@contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Silence libraries that log at length (pika, every failed connection attempt; alembic, its
    plugins) while the caller reports the outcome once."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def quiet_pika() -> AbstractContextManager[None]:
    return quiet("pika")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text and exc.args:
        text = repr(exc.args[0])
    return text.splitlines()[0].strip() if text else ""


def _has_request(exc: BaseException) -> bool:
    try:
        exc.request  # type: ignore[attr-defined]  # noqa: B018  (httpx raises when it has none)
    except RuntimeError:
        return False
    return True
