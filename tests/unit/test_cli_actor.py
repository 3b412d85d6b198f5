"""Every operator command names its operator the same way in what it records: `cli:<os user>`
(`rostersync failed` once wrote a bare `cli`). Run as an operator runs it, in a shell."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select

from rostersync.cli_actor import cli_actor
from storage import failed_messages
from storage.migrate import upgrade
from storage.tables import failed_messages as failed_table


def test_the_os_user_is_named() -> None:
    assert cli_actor() == f"cli:{getpass.getuser()}"


def test_failed_drop_records_the_os_user_as_it_resolves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(url)
    now = datetime.now(UTC)
    engine = create_engine(url)
    with engine.begin() as conn:
        failed_id = failed_messages.record(
            conn,
            failed_messages.Failure(
                message_id="msg-1",
                queue="apply",
                actor="apply_page",
                district_id=None,
                idempotency_key=None,
                cause="seeded",
                attempts=1,
                first_failed_at=now,
                last_failed_at=now,
                message={"queue_name": "apply", "actor_name": "apply_page", "args": [], "kwargs": {}},
            ),
        )
    env = {k: v for k, v in os.environ.items() if k not in ("BROKER_URL", "ENCRYPTION_KEYS")}
    result = subprocess.run(
        [sys.executable, "-m", "rostersync.cli", "failed", "drop", str(failed_id)],
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with engine.connect() as conn:
        resolved_by = conn.execute(select(failed_table.c.resolved_by)).scalar_one()
    assert resolved_by == f"cli:{getpass.getuser()}"
