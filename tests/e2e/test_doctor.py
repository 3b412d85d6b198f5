"""`rostersync doctor` against a real deployment (PostgreSQL, RabbitMQ, the simulator, a worker that
declared its queues, a connected district), then with each thing broken in turn; and workers that
refuse a schema behind this release."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet

from simulator.testing import free_port
from storage.migrate import alembic_config, upgrade

pytestmark = pytest.mark.e2e


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rostersync.cli", *args],
        env={**env, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<status>ok|FAIL|skip)\s{2,}(?P<detail>.*)$")


def doctor_rows(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """check name -> (status, detail), continuation lines folded into their row."""
    rows: dict[str, tuple[str, str]] = {}
    last = ""
    for line in result.stdout.splitlines()[1:]:
        if not line.strip():
            break
        found = ROW.match(line)
        if found is None:  # the wrapped rest of the previous row's detail
            status, detail = rows[last]
            rows[last] = (status, f"{detail} {line.strip()}")
            continue
        last = found["name"]
        rows[last] = (found["status"], found["detail"])
    return rows


@pytest.fixture
def deployment(make_stack: Any) -> Iterator[Any]:
    stack = make_stack(schools=1)
    stack.connect_via_oauth()
    stack.wait_for_runs(stack.sim.district.id, 1)
    yield stack


def test_a_healthy_deployment_passes_every_check(deployment: Any) -> None:
    result = run_cli(deployment.env, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = doctor_rows(result)
    district_id = deployment.sim.district.id
    assert {name: status for name, (status, _) in rows.items()} == {
        "database": "ok",
        "schema": "ok",
        "broker": "ok",
        **{
            f"queue {deployment.env['QUEUE_PREFIX']}{kind}": "ok"
            for kind in ("connect", "ingest", "apply", "events", "reconcile")
        },
        "keys": "ok",
        "clever": "ok",
        f"token {district_id}": "ok",
    }
    assert rows["keys"][1] == "every stored token decrypts (1)"
    assert "all checks passed" in result.stdout


def test_each_broken_part_fails_its_check_and_the_exit_code(deployment: Any) -> None:
    district_id = deployment.sim.district.id

    other_key = {**deployment.env, "ENCRYPTION_KEYS": f"other:{Fernet.generate_key().decode()}"}
    result = run_cli(other_key, "doctor", "--no-clever")
    assert result.returncode == 1
    status, detail = doctor_rows(result)["keys"]
    assert status == "FAIL" and "no key 'e2e' in ENCRYPTION_KEYS" in detail and district_id in detail

    quorum = {**deployment.env, "QUEUE_TYPE": "quorum"}
    result = run_cli(quorum, "doctor", "--no-clever")
    assert result.returncode == 1
    status, detail = doctor_rows(result)[f"queue {deployment.env['QUEUE_PREFIX']}apply"]
    assert status == "FAIL" and "a classic queue" in detail

    closed = free_port()
    broker_down = {**deployment.env, "BROKER_URL": f"amqp://guest:guest@127.0.0.1:{closed}/%2F"}
    result = run_cli(broker_down, "doctor", "--no-clever")
    assert result.returncode == 1
    rows = doctor_rows(result)
    assert rows["broker"][0] == "FAIL" and "message broker unreachable" in rows["broker"][1]
    assert rows["queues"][0] == "skip"
    assert "pika" not in result.stderr, "no library noise beside the table"

    deployment.sim.revoke_token(district_id)
    result = run_cli(deployment.env, "doctor")
    assert result.returncode == 1
    status, detail = doctor_rows(result)[f"token {district_id}"]
    assert status == "FAIL" and "refused by Clever (401)" in detail


def test_a_schema_behind_fails_the_doctor_and_workers_refuse_to_start(
    deployment: Any, empty_postgres: str
) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_postgres))
    head = script.get_current_head()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    upgrade(empty_postgres, previous)
    behind = {**deployment.env, "DATABASE_URL": empty_postgres}

    result = run_cli(behind, "doctor", "--no-clever")
    assert result.returncode == 1
    status, detail = doctor_rows(result)["schema"]
    assert status == "FAIL" and f"is at migration {previous}, this release needs {head}" in detail

    for command in (["worker", "--threads", "1"], ["scheduler", "--once"]):
        refused = run_cli(behind, *command)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.strip().splitlines() == [
            f"rostersync {command[0]}: the database is at migration {previous}, this release needs {head}: "
            "run `rostersync db upgrade`"
        ]
