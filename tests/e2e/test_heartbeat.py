"""The health checks compose runs for workers and the scheduler: a heartbeat file each process
touches while it works, and `python -m messaging.heartbeat` judging its age."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_until

pytestmark = pytest.mark.e2e


def healthy(path: Path, within: float = 60) -> bool:
    check = [sys.executable, "-m", "messaging.heartbeat", str(within)]
    env = {**os.environ, "HEARTBEAT_FILE": str(path)}
    return subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0


def test_workers_and_the_scheduler_keep_their_heartbeat(make_stack: Any, tmp_path: Path) -> None:
    worker_file, scheduler_file = tmp_path / "worker.alive", tmp_path / "scheduler.alive"
    assert not healthy(worker_file)  # never written: unhealthy
    stack = make_stack(schools=1, gateway=False, workers=0)
    stack.env["HEARTBEAT_FILE"] = str(worker_file)
    stack.start_worker(processes=1, threads=2)
    stack.env["HEARTBEAT_FILE"] = str(scheduler_file)
    stack._spawn("scheduler", "--tick", "600")  # its first tick runs at once, the next much later

    wait_until(lambda: healthy(worker_file) and healthy(scheduler_file), what="both heartbeats", timeout=60)
    # A stale file (a hung process stops touching it) fails the check.
    os.utime(scheduler_file, (0, 0))
    assert not healthy(scheduler_file, within=3600)
