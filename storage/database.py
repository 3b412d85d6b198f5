"""Engines for PostgreSQL (production) and SQLite (the embedded default)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, Table, Text, cast, create_engine, event, func
from sqlalchemy.dialects import postgresql, sqlite


def one_json_array(column: Any) -> ColumnElement[str]:
    """PostgreSQL: the column's values over all rows as one JSON array, as text (NULL for no
    rows). Thousands of ids cost the client several times more as a row each than as one value
    parsed by orjson; read it back with `json_array_set`."""
    return cast(func.json_agg(column), Text)


def json_array_set(text: str | None) -> set[Any]:
    """What `one_json_array` sent, as a set (empty for NULL)."""
    return set(orjson.loads(text)) if text is not None else set()


def normalize_url(url: str) -> str:
    """Name the psycopg 3 driver explicitly, whatever the SQLAlchemy version's default."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def json_text(value: Any) -> str:
    """JSON columns' values as text: orjson, several times faster than the standard library,
    which still writes what orjson refuses (integers beyond 64 bits, non-string keys)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            hide_parameters=True,
            json_serializer=json_text,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # Pre-ping: a connection PostgreSQL dropped (a restart, a terminated backend) is replaced
        # at checkout instead of failing a request or a transaction; one round trip per checkout.
        pool_pre_ping=True,
        pool_recycle=300,
        hide_parameters=True,  # SQL errors would otherwise carry names and emails into the logs
        json_serializer=json_text,
        connect_args={"application_name": "rostersync"},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the gateway read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def dialect_insert(conn: Connection) -> Callable[[Table], Any]:
    """The INSERT construct with ON CONFLICT support for the connection's database."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
