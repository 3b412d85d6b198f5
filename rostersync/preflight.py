"""Checks a process makes before it starts work, each raising an error the command line tells in
one line (rostersync.cli_failures): the database answers and is at this release's schema, the
broker answers, the keys are there. The doctor runs the same checks and reports them all."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url

from rostersync.cli_failures import CommandFailed, quiet, quiet_pika
from rostersync.runtime import Runtime
from rostersync.settings import Settings


def describe_database(settings: Settings) -> str:
    """Where the data lives, without credentials."""
    url = make_url(settings.database_url)
    if settings.embedded_database:
        return f"sqlite file {url.database}"
    return f"postgresql at {url.host}:{url.port or 5432}/{url.database}"


def describe_broker(settings: Settings) -> str:
    if settings.broker_url is None:
        return "in-process broker (BROKER_URL unset)"
    parts = urlsplit(settings.broker_url)
    return f"rabbitmq at {parts.hostname}:{parts.port or 5672}"


def require_database(rt: Runtime) -> None:
    """Raises SQLAlchemy's error (told as `database unreachable`) when it does not answer."""
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def schema_problem(rt: Runtime) -> str | None:
    """Why the schema is not this release's, or None when it is at the newest migration."""
    with quiet("alembic"), rt.engine.connect() as conn:
        from storage.migrate import current_revision, head_revision  # alembic logs as it loads

        current = current_revision(conn)
        head = head_revision()
    if current == head:
        return None
    where = "has no schema" if current is None else f"is at migration {current}"
    return f"the database {where}, this release needs {head}: run `rostersync db upgrade`"


def require_schema_at_head(rt: Runtime) -> None:
    problem = schema_problem(rt)
    if problem is not None:
        raise CommandFailed(problem)


def require_broker(settings: Settings) -> None:
    """Open and close one connection to RabbitMQ (nothing to do with the in-process broker)."""
    if settings.broker_url is None:
        return
    import pika

    from messaging.broker import connection_parameters

    params = pika.ConnectionParameters(**connection_parameters(settings.broker_url, attempts=1))
    with quiet_pika():
        pika.BlockingConnection(params).close()


def require_keys(rt: Runtime) -> None:
    """ENCRYPTION_KEYS present (with PostgreSQL) and well formed."""
    rt.settings.require_encryption_keys()
    rt.keyring  # noqa: B018  (builds the keyring, raising KeyringError on a bad entry)


def before_work(rt: Runtime, *, broker: bool = True) -> None:
    """What the worker and the scheduler check before they take any message."""
    rt.settings.require_encryption_keys()
    require_database(rt)
    require_schema_at_head(rt)
    if broker:
        require_broker(rt.settings)
    require_keys(rt)  # last: on the embedded default it warns about the development key
