"""Every command's expected failures are one line on stderr and an exit code, never a traceback:
bad settings (exit 2), a database or broker that does not answer, an unknown district. The
commands run as subprocesses, as an operator runs them; unreachable servers are closed ports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select

from rostersync.runtime import Runtime
from rostersync.settings import Settings
from simulator.testing import free_port
from storage.tables import deletion_receipts

CLOSED_PG = f"postgresql://postgres@127.0.0.1:{free_port()}/rostersync"
CLOSED_AMQP = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
KEY = f"k1:{Fernet.generate_key().decode()}"


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DATABASE_URL", "BROKER_URL", "ENCRYPTION_KEYS", "QUEUE_PREFIX", "LOG_LEVEL", "LOG_FORMAT")
    }
    return subprocess.run(
        [sys.executable, "-m", "rostersync.cli", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def the_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("command", "env", "expected"),
    [
        (
            ["runs"],
            {"PAGE_LIMIT": "abc"},
            "rostersync runs: configuration error: PAGE_LIMIT is 'abc', not a whole number",
        ),
        (["gateway"], {"LOG_LEVEL": "LOUD"}, "rostersync gateway: configuration error: LOG_LEVEL is 'LOUD'"),
        (
            ["scheduler", "--once"],
            {"LOG_FORMAT": "xml"},
            "rostersync scheduler: configuration error: LOG_FORMAT",
        ),
        (
            ["db", "upgrade"],
            {"DATABASE_URL": "mysql://x@y/z"},
            "rostersync db: configuration error: DATABASE_URL",
        ),
        (
            ["worker"],
            {"DATABASE_URL": CLOSED_PG, "BROKER_URL": CLOSED_AMQP},
            "rostersync worker: configuration error: ENCRYPTION_KEYS is required with PostgreSQL",
        ),
        (
            ["gateway"],
            {"DATABASE_URL": CLOSED_PG, "ENCRYPTION_KEYS": "k1:short"},
            "rostersync gateway: configuration error: ENCRYPTION_KEYS key 'k1' is not a Fernet key",
        ),
        (["worker"], {}, "rostersync worker: BROKER_URL is unset"),
    ],
)
def test_a_bad_setting_ends_the_process_with_one_line_and_exit_code_2(
    tmp_path: Path, command: list[str], env: dict[str, str], expected: str
) -> None:
    assert the_line(run_cli(tmp_path, *command, **env), 2).startswith(expected)


def test_keys_new_works_before_any_key_is_configured(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "keys", "new", DATABASE_URL=CLOSED_PG)
    assert result.returncode == 0, result.stderr
    Fernet(result.stdout.strip().encode())


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["runs"], ["worker"], ["scheduler", "--once"], ["doctor"]]
)
def test_an_unreachable_database_is_one_line(tmp_path: Path, command: list[str]) -> None:
    result = run_cli(tmp_path, *command, DATABASE_URL=CLOSED_PG, ENCRYPTION_KEYS=KEY, BROKER_URL=CLOSED_AMQP)
    if command == ["doctor"]:  # the doctor reports it in its table instead
        assert result.returncode == 1 and "database unreachable" in result.stdout
        return
    line = the_line(result, 1)
    assert line.startswith(f"rostersync {command[0]}: database unreachable: ") and "DATABASE_URL" in line


def test_the_demo_with_the_broker_down_is_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "demo", "--schools", "1", BROKER_URL=CLOSED_AMQP)
    line = the_line(result, 1)
    assert line.startswith("rostersync demo: message broker unreachable: ") and "BROKER_URL" in line


def test_operator_commands_refuse_an_unknown_district_and_write_no_receipt(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "db", "upgrade").returncode == 0
    unknown = "0" * 24
    for command in (
        ["purge", unknown, "--yes"],
        ["disconnect", unknown],
        ["approve", unknown],
        ["runs", unknown],
    ):
        assert the_line(run_cli(tmp_path, *command), 1).endswith(f"unknown district {unknown}")
    engine = create_engine(f"sqlite:///{tmp_path / 'rostersync.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deletion_receipts)).scalar() == 0
    engine.dispose()
    # On the embedded default the broker lives in the gateway: a sync from here says where to ask.
    assert "POST /v1/districts/{id}/sync" in the_line(run_cli(tmp_path, "sync", unknown), 1)


def test_commands_on_a_database_without_schema_say_to_upgrade(tmp_path: Path) -> None:
    for command in (["purge", "x", "--yes"], ["scheduler", "--once"]):
        line = the_line(run_cli(tmp_path, *command), 1)
        assert line.endswith("the database has no schema, this release needs " + line.split("needs ")[1])
        assert "run `rostersync db upgrade`" in line


def test_scheduler_once_exits_non_zero_when_its_pass_failed(tmp_path: Path) -> None:
    from rostersync.processes import run_scheduler

    healthy = tmp_path / "ok.sqlite3"
    from storage.migrate import upgrade

    upgrade(f"sqlite:///{healthy}")
    assert (
        run_scheduler(Runtime(Settings(database_url=f"sqlite:///{healthy}")), tick_seconds=1, once=True) == 0
    )
    # The database goes away after start-up: the pass fails and the exit code says so.
    away = Runtime(Settings(database_url=CLOSED_PG, encryption_keys=(KEY,)))
    assert run_scheduler(away, tick_seconds=1, once=True) == 1
