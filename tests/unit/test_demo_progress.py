"""The demo's progress: a total per kind of row fixed before the sync starts, redrawn in place in
a terminal, plain lines (no carriage returns) anywhere else, such as a log."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from rostersync.demo import ProgressOutput, expected_totals, progress_line

SNAPSHOT = {
    "schools": [{"id": "s1"}, {"id": "s2"}],
    "terms": [{"id": "t1"}],
    "courses": [],
    "sections": [{"id": "c1"}, {"id": "c2"}, {"id": "c3"}],
    "users_by_role": {
        "teacher": [{"id": "u1"}, {"id": "u2"}],
        "staff": [{"id": "u2"}],
        "student": [{"id": "x"}],
    },
}


def test_totals_come_from_clever_before_the_run() -> None:
    totals = expected_totals(SNAPSHOT)
    # The district is a tenant too; a teacher who is also staff is one person; students never count.
    assert totals == {"tenant": 3, "term": 1, "course": 0, "classroom": 3, "staff": 2}
    line = progress_line({"classroom": {"created": 2, "unchanged": 5}}, totals, "running")
    assert line == "schools 0/3, terms 0/1, courses 0/0, classrooms 3/3, staff 0/2; run running"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_redrawn_and_a_log_gets_plain_lines() -> None:
    terminal = Terminal()
    shown = ProgressOutput(terminal)
    shown.show("staff 1/2")
    shown.show("staff 2/2; run succeeded", final=True)
    assert terminal.getvalue() == "\rstaff 1/2\rstaff 2/2; run succeeded\n"

    log = io.StringIO()
    plain = ProgressOutput(log)
    for line in ("staff 1/2", "staff 1/2", "staff 2/2"):
        plain.show(line)
    plain.show("staff 2/2; run succeeded", final=True)
    assert "\r" not in log.getvalue()
    # Repeats are dropped; the final line always shows.
    assert log.getvalue() == "staff 1/2\nstaff 2/2; run succeeded\n"


def test_the_demo_in_a_pipe_prints_plain_lines_with_fixed_totals(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BROKER_URL", "QUEUE_PREFIX")}
    result = subprocess.run(
        [sys.executable, "-m", "rostersync.cli", "demo", "--schools", "2"],
        cwd=tmp_path,
        env={**env, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stderr and "\r" not in result.stdout
    progress = [line for line in result.stderr.splitlines() if "; run " in line]
    assert progress and progress[-1].endswith("run succeeded")
    totals = {tuple(re.findall(r"(\w+) \d+/(\d+)", line)) for line in progress}
    assert len(totals) == 1, progress  # every line against the same totals
    done = re.findall(r"(\w+) (\d+)/(\d+)", progress[-1])
    assert all(applied == total for _, applied, total in done), progress[-1]
