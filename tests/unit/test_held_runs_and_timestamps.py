"""A held run stays held until someone decides; an approved run's status and error agree; every
timestamp the API serves carries its UTC offset, SQLite included; counters keep their documented
names, for runs stored by earlier releases too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from test_gateway_support import DISTRICT, EPOCH, Harness

from services.sync_requests import RunHeld, request_sync
from storage.tables import sync_runs

HOLD_REASON = "staff: 6 of 10 would be deactivated (threshold 10%)"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        harness.add_district()
        harness.add_run(
            "held-run", status="held", held_plan={"staff": []}, error=HOLD_REASON, counters={"staff": {}}
        )
        yield harness


def run_row(h: Harness, run_id: str) -> dict[str, object]:
    with h.rt.engine.connect() as conn:
        return dict(conn.execute(select(sync_runs).where(sync_runs.c.id == run_id)).one()._mapping)


def test_a_sync_request_is_answered_with_the_held_run_and_why(h: Harness) -> None:
    response = h.client.post(f"/v1/districts/{DISTRICT}/sync", json={"kind": "full"}, headers=h.admin())
    assert response.status_code == 409
    body = response.json()
    assert body["run_id"] == "held-run"
    assert "held" in body["error"] and HOLD_REASON in body["error"]
    assert run_row(h, "held-run")["status"] == "held"
    assert h.messages("ingest") == []  # nothing started

    # The same from the message contract or the scheduler: refused, the held run untouched.
    with pytest.raises(RunHeld) as refused:
        request_sync(h.rt, DISTRICT, kind="reconcile", requested_by="scheduler")
    assert refused.value.run_id == "held-run"
    assert run_row(h, "held-run")["status"] == "held"


def test_once_discarded_a_new_sync_starts(h: Harness) -> None:
    assert h.client.post("/v1/runs/held-run/discard", headers=h.admin()).status_code == 200
    response = h.client.post(f"/v1/districts/{DISTRICT}/sync", headers=h.admin())
    assert response.status_code == 202 and response.json()["created"] is True


def test_reconnecting_supersedes_the_held_run(h: Harness) -> None:
    ticket = request_sync(h.rt, DISTRICT, kind="full", requested_by="connect", supersede_held=True)
    assert ticket.created
    assert run_row(h, "held-run")["status"] == "discarded"


def test_an_approved_run_succeeded_without_an_error(h: Harness) -> None:
    response = h.client.post("/v1/runs/held-run/approve", headers=h.admin())
    assert response.status_code == 200, response.text
    detail = h.client.get("/v1/runs/held-run", headers=h.admin()).json()
    assert (detail["status"], detail["error"]) == ("succeeded", None)


def test_every_timestamp_carries_its_offset_on_sqlite(h: Harness) -> None:
    h.add_run("done", started_at=EPOCH, finished_at=EPOCH, minutes=5)
    h.client.post("/v1/runs/held-run/discard", headers=h.admin())  # an audit row
    run = h.client.get("/v1/runs/done", headers=h.admin()).json()
    district = h.client.get(f"/v1/districts/{DISTRICT}", headers=h.admin()).json()
    audit = h.client.get("/v1/audit", headers=h.admin()).json()["audit"]
    stamps = [run["queued_at"], run["started_at"], run["finished_at"], audit[0]["at"]]
    stamps += [district["last_run"]["queued_at"]]
    for stamp in stamps:
        assert datetime.fromisoformat(stamp).utcoffset() is not None, stamp
    assert run["started_at"] == "2024-08-01T12:00:00+00:00"


def test_counters_carry_their_documented_names_for_runs_stored_before(h: Harness) -> None:
    h.add_run("old", counters={"staff": {"created": 2, "stale": 1}, "term": {"outdated": 1, "stale": 2}})
    counters = h.client.get("/v1/runs/old", headers=h.admin()).json()["counters"]
    assert counters == {"staff": {"created": 2, "outdated": 1}, "term": {"outdated": 3}}
