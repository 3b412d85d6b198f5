"""Fixtures of the storage tests that run on both databases the service supports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from storage.database import make_engine, normalize_url
from storage.migrate import upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, clean_postgres: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database: the run's PostgreSQL, then a SQLite file of the test's own.
    A module that needs PostgreSQL alone defines its own `engine`."""
    if request.param == "postgresql":
        built = create_engine(normalize_url(clean_postgres))
    else:
        url = f"sqlite:///{tmp_path / 'rostersync.sqlite3'}"
        upgrade(url)
        built = make_engine(url)
    yield built
    built.dispose()
