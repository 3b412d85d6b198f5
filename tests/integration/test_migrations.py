"""`rostersync db upgrade` builds the same schema on PostgreSQL and on the embedded SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from storage.database import normalize_url
from storage.migrate import downgrade, upgrade
from storage.seen import seen_ids
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
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    upgraded = [line for line in lines if line["event"] == "db.upgraded"]
    assert upgraded and upgraded[0]["database"] == "sqlite (embedded)"


def test_migrations_build_every_table_on_postgresql_and_can_be_undone(postgres_url: str) -> None:
    assert tables_of(postgres_url) == set(metadata.tables)


def test_sqlite_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    upgrade(url)
    downgrade(url, "base")
    assert tables_of(url) == set()
    upgrade(url)
    assert tables_of(url) == set(metadata.tables)


def seen_rows(url: str) -> set[tuple[str, str, str]]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return {
                tuple(r) for r in conn.execute(text("SELECT run_id, entity_type, clever_id FROM run_seen"))
            }
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_ids_a_running_sync_has_seen_survive_the_per_page_migration_both_ways(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'seen.sqlite3'}"
        if backend == "sqlite"
        else request.getfixturevalue("empty_postgres")
    )
    rows = {
        ("run-1", "staff", "u1"),
        ("run-1", "staff", "u2"),
        ("run-1", "classroom", "c1"),
        ("run-2", "staff", "u1"),
    }
    upgrade(url, "0001")
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            for run_id, entity_type, clever_id in rows:
                conn.execute(
                    text("INSERT INTO run_seen VALUES (:r, :e, :c)"),
                    {"r": run_id, "e": entity_type, "c": clever_id},
                )
        upgrade(url, "0002")
        with engine.connect() as conn:
            assert seen_ids(conn, "run-1", "staff") == {"u1", "u2"}
            assert seen_ids(conn, "run-1", "classroom") == {"c1"}
            assert seen_ids(conn, "run-2", "staff") == {"u1"}
            assert seen_ids(conn, "run-2", "classroom") == set()
    finally:
        engine.dispose()
    downgrade(url, "0001")
    assert seen_rows(url) == rows
