"""Operators' view: a heavy district in a lane of its own, the demo, and `rostersync runs`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_a_district_with_a_lane_is_synced_by_the_lane_workers_alone(make_stack: Any) -> None:
    stack = make_stack(schools=1, workers=0, extra_env={"DEDICATED_LANES": "big"})
    shared = stack.start_worker()
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)

    # From now on nothing consumes the shared ingest and apply queues: only the lane can sync.
    stack.kill(shared)
    stack.start_worker("connect", "events", "reconcile")
    stack.start_worker("ingest.big", "apply.big")
    with stack.admin() as admin:
        assert admin.patch(f"/v1/districts/{district_id}", json={"lane": "big"}).status_code == 200
        assert admin.post(f"/v1/districts/{district_id}/sync").status_code == 202
    run = stack.wait_for_runs(district_id, 2)[-1]
    assert run["status"] == "succeeded", run["error"]


def test_the_demo_connects_and_syncs_a_district_on_the_embedded_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "QUEUE_PREFIX")}
    result = subprocess.run(
        [sys.executable, "-m", "rostersync.cli", "demo", "--schools", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sync succeeded" in result.stdout
    assert "staff users:" in result.stdout
    assert (tmp_path / "rostersync.sqlite3").exists()

    runs = subprocess.run(
        [sys.executable, "-m", "rostersync.cli", "runs"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert runs.returncode == 0, runs.stderr
    assert "succeeded" in runs.stdout and "staff created=" in runs.stdout
