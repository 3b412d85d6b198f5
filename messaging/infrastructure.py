"""Which errors are the infrastructure's (a database, broker or Clever briefly unavailable)
rather than the message's: only those are worth waiting out for hours."""

from __future__ import annotations

import psycopg
import sqlalchemy.exc
from dramatiq.errors import BrokerConnectionError
from pika.exceptions import AMQPChannelError, AMQPConnectionError

from clever_client.errors import CleverUnavailable

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    # PostgreSQL unreachable, restarting, a lost connection, a serialization failure or a
    # deadlock (psycopg's SerializationFailure and DeadlockDetected are OperationalErrors),
    # raw or wrapped by SQLAlchemy; a pool that had no connection to give in time.
    psycopg.OperationalError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    # RabbitMQ unreachable while a message publishes its successor.
    BrokerConnectionError,
    AMQPConnectionError,
    AMQPChannelError,
    # Clever's 5xx, 429 and timeouts once the client's own retries are spent.
    CleverUnavailable,
    ConnectionError,
    TimeoutError,
)


def is_infrastructure(exception: BaseException) -> bool:
    """True for an infrastructure error, or one raised `from` one."""
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, INFRASTRUCTURE_ERRORS):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True  # SQLAlchemy saw the connection drop (a disconnect, whatever its class)
        current = current.__cause__
    return False
