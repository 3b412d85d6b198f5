"""Shared fixtures: a fresh PostgreSQL database per test run (migrations applied), an isolated
set of RabbitMQ queues per run (a unique QUEUE_PREFIX), and helpers to build a Runtime.

PostgreSQL and RabbitMQ must be running (TEST_DATABASE_URL, TEST_BROKER_URL); a test that needs
them fails when they are down rather than being skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pika
import pytest
from sqlalchemy import create_engine, text

from storage.database import normalize_url
from storage.migrate import upgrade
from storage.tables import metadata

ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
RUN_TAG = uuid.uuid4().hex[:8]
LANE_QUEUES = ("ingest.big", "apply.big")  # the lane the end-to-end tests give a district


def _database_url(name: str) -> str:
    base = normalize_url(ADMIN_DATABASE_URL)
    return base.rsplit("/", 1)[0] + "/" + name


@contextmanager
def _new_database(name: str) -> Iterator[str]:
    admin = create_engine(normalize_url(ADMIN_DATABASE_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _database_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test run, built with the real migrations."""
    with _new_database(f"rostersync_test_{RUN_TAG}") as url:
        upgrade(url)
        yield url


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A database of its own for one test, with no schema (migration tests build their own)."""
    with _new_database(f"rostersync_empty_{RUN_TAG}_{uuid.uuid4().hex[:6]}") as url:
        yield url


@pytest.fixture
def clean_postgres(postgres_url: str) -> str:
    """The run's database, emptied of rows (the schema stays)."""
    engine = create_engine(normalize_url(postgres_url))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture(scope="session")
def broker_url() -> str:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    connection.close()
    return BROKER_URL


@pytest.fixture
def queue_prefix(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Queues of this test only: every queue name starts with a prefix nobody else uses."""
    prefix = f"t{RUN_TAG}{uuid.uuid4().hex[:6]}."
    monkeypatch.setenv("QUEUE_PREFIX", prefix)
    yield prefix
    delete_queues(broker_url, prefix, extra=LANE_QUEUES)


def delete_queues(broker_url: str, prefix: str, extra: tuple[str, ...] = ()) -> None:
    """Remove a test's queues (each with its delay and dead-letter queues)."""
    from messaging import queues

    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    for kind in (*queues.ALL, *extra):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(queue=f"{prefix}{kind}{suffix}")
    connection.close()
