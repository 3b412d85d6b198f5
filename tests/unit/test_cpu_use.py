"""The bench's CPU meter: what a process spends during a phase, a child that starts during the
phase counted from its start, and events per second from the cost of one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from bench.cpu_use import CpuMeter, carried_per_s, sync_cpu

# Waits for a line on stdin, burns `seconds` of CPU, then idles until killed.
BURN_THEN_IDLE = (
    "import sys, time\n"
    "sys.stdin.readline()\n"
    "end = time.process_time() + {seconds}\n"
    "while time.process_time() < end: pass\n"
    "time.sleep(60)\n"
)
# Waits for a line on stdin, then starts a child that burns at once, and idles.
PARENT = (
    "import subprocess, sys, time\n"
    "sys.stdin.readline()\n"
    "child = subprocess.Popen([sys.executable, '-c', {child!r}], stdin=subprocess.PIPE, text=True)\n"
    "child.stdin.write('go\\n'); child.stdin.flush()\n"
    "time.sleep(60)\n"
)


def _started(script: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, text=True)
    time.sleep(0.5)  # the interpreter's start-up falls before the phase
    return process


def _go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def test_a_busy_process_is_charged_for_its_work_in_the_phase() -> None:
    busy = _started(BURN_THEN_IDLE.format(seconds=0.5))
    try:
        with CpuMeter({"busy": busy.pid}) as meter:
            _go(busy)
            time.sleep(1.5)
    finally:
        busy.kill()
        busy.wait()
    spent = meter.seconds()["busy"]
    assert 0.4 <= spent < 1.2
    assert meter.per_event_ms(100)["busy"] == pytest.approx(spent * 10, abs=0.01)
    assert meter.per_event_ms(0) == {}


def test_a_child_started_during_the_phase_is_counted_from_its_start() -> None:
    parent = _started(PARENT.format(child=BURN_THEN_IDLE.format(seconds=0.5)))
    try:
        with CpuMeter({"parent": parent.pid}) as meter:
            _go(parent)
            time.sleep(2.0)  # the child starts, burns and idles
    finally:
        for child in psutil.Process(parent.pid).children(recursive=True):
            child.kill()
        parent.kill()
        parent.wait()
    assert meter.seconds()["parent"] >= 0.4  # the parent itself only waited


def test_events_per_second_all_cores_carry_at_a_cost_per_event() -> None:
    assert carried_per_s(0) is None
    one = carried_per_s(1.0)
    assert one is not None
    assert carried_per_s(2.0) == pytest.approx(one / 2, rel=0.01)


def test_a_syncs_cpu_per_thousand_entities_and_how_busy_it_kept_the_cores() -> None:
    meter = CpuMeter({})
    meter._spent = {"worker-apply": 2.0, "postgresql": 1.0}
    figures = sync_cpu(meter, entities=4_000, wall_seconds=3.0)
    assert figures["ms_per_1000_entities"] == {"worker-apply": 500.0, "postgresql": 250.0}
    cores = os.cpu_count() or 1
    assert figures["machine_busy_share"] == round(3.0 / (3.0 * cores), 3)
    assert sync_cpu(meter, entities=0, wall_seconds=0)["machine_busy_share"] is None
