"""`rostersync db upgrade` builds the same schema on PostgreSQL and on the embedded SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

from storage.database import normalize_url
from storage.migrate import downgrade, upgrade
from storage.tables import metadata


def tables_of(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_the_cli_builds_the_schema_on_the_embedded_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rostersync.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "rostersync.cli", "db", "upgrade"],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert tables_of(url) == set(metadata.tables)
    assert '"database": "sqlite (embedded)"' in result.stderr


def test_migrations_build_every_table_on_postgresql_and_can_be_undone(postgres_url: str) -> None:
    assert tables_of(postgres_url) == set(metadata.tables)


def test_sqlite_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    upgrade(url)
    downgrade(url, "base")
    assert tables_of(url) == set()
    upgrade(url)
    assert tables_of(url) == set(metadata.tables)
