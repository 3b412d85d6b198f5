"""`rostersync runs` and the doctor's table fit an 80-column terminal, whatever they carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rostersync.run_report import HEADER, run_lines
from rostersync.text_table import render

STARTED = datetime(2026, 3, 2, 2, 30, 5)  # SQLite hands back naive UTC


def a_run(**values: object) -> dict[str, object]:
    return {
        "id": "0f8e2b2c-9a41-4a55-8f7d-3c7e0d0d1b11",
        "district_id": "5940d254203e37907e0000f1",
        "kind": "reconcile",
        "status": "succeeded",
        "queued_at": STARTED,
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=754.25),
        "error": None,
        "counters": {},
        **values,
    }


def test_a_run_is_a_row_and_indented_details_within_80_columns() -> None:
    counters = {
        kind: {"created": 12345, "updated": 678, "deactivated": 9, "restored": 1, "unchanged": 0}
        for kind in ("classrooms", "schools", "staff", "terms", "bell_schedules")
    }
    lines = run_lines(a_run(counters=counters, error="fetch incomplete: " + "x" * 300), width=80)
    assert len(HEADER) <= 80
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[0] == ("5940d254203e37907e0000f1  reconcile  succeeded  2026-03-02 02:30    754.2s")
    assert lines[1] == "    run 0f8e2b2c-9a41-4a55-8f7d-3c7e0d0d1b11"
    text = "\n".join(lines)
    # An entity type's counters are never split across lines; zero outcomes are left out.
    for kind in counters:
        assert f"{kind} created=12345 deactivated=9 restored=1 updated=678" in text
    assert "unchanged" not in text
    assert lines[-1].startswith("      ") and "error: fetch incomplete" in text


def test_counters_of_runs_stored_before_the_rename_show_their_documented_names() -> None:
    lines = run_lines(a_run(counters={"staff": {"created": 2, "stale": 1, "outdated": 1}}), width=80)
    assert lines[2] == "    staff created=2 outdated=2"


def test_a_run_not_started_yet_shows_when_it_was_queued_and_no_duration() -> None:
    queued = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    lines = run_lines(a_run(status="queued", started_at=None, finished_at=None, queued_at=queued), width=80)
    assert lines[0].endswith("queued     2026-03-02 02:30         -")
    assert len(lines) == 2  # no counters, no error


def test_the_doctor_table_wraps_its_last_column_under_itself() -> None:
    lines = render(
        ("check", "status", "detail"),
        [("database", "ok", "postgresql at db:5432/rostersync"), ("keys", "FAIL", "word " * 40)],
        width=80,
    )
    assert all(len(line) <= 80 for line in lines)
    assert lines[0] == "check     status  detail"
    assert lines[2].startswith("keys      FAIL    word")
    assert lines[3].startswith(" " * 18 + "word")
