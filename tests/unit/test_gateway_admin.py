from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_gateway_support import ADMIN_TOKEN, DISTRICT, EPOCH, FINGERPRINT, OTHER_ADMIN_TOKEN, Harness

from storage import outbox
from storage.tables import audit_log, sync_runs


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        harness.add_district()
        yield harness


def audit_rows(h: Harness) -> list[Any]:
    with h.rt.engine.connect() as conn:
        return list(conn.execute(select(audit_log).order_by(audit_log.c.id)))


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic abc"}, "missing bearer token"),
        ({"Authorization": "Bearer nope"}, "invalid bearer token"),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, "invalid bearer token"),
    ],
)
def test_admin_api_needs_a_valid_token(h: Harness, headers: dict[str, str], reason: str) -> None:
    response = h.client.get("/v1/districts", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": reason}
    assert response.headers["www-authenticate"] == "Bearer"


def test_every_configured_token_is_accepted(h: Harness) -> None:
    for token in (ADMIN_TOKEN, OTHER_ADMIN_TOKEN):
        assert h.client.get("/v1/districts", headers=h.admin(token)).status_code == 200


def test_no_configured_token_refuses_everyone(tmp_path: Path) -> None:
    with Harness.open(tmp_path, admin_tokens=()) as h:
        response = h.client.get("/v1/districts", headers=h.admin())
    assert response.status_code == 401
    assert response.json() == {"error": "invalid bearer token"}


# --- districts ------------------------------------------------------------------------------


def test_districts_never_show_the_token(h: Harness) -> None:
    listing = h.client.get("/v1/districts", headers=h.admin())
    detail = h.client.get(f"/v1/districts/{DISTRICT}", headers=h.admin())
    assert [d["id"] for d in listing.json()["districts"]] == [DISTRICT]
    body = detail.json()
    assert body["status"] == "active" and body["has_token"] is True
    assert body["scopes"] == ["read:district_admins", "read:teachers"]
    assert body["timezone"] == "America/New_York" and body["last_run"] is None
    for response in (listing, detail):
        assert "token_ciphertext" not in response.text and "dev:" not in response.text


def test_unknown_district_is_404_json(h: Harness) -> None:
    response = h.client.get(f"/v1/districts/{'f' * 24}", headers=h.admin())
    assert response.status_code == 404
    assert response.json() == {"error": "district not found"}


def test_patch_district_options_and_timezone(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEDICATED_LANES", "big")
    changes = {
        "lane": "big",
        "deactivation_threshold": 0.25,
        "role_rules": [{"pattern": "^Dean", "role": "SCHOOL_ADMIN"}],
        "bell_schedule_ext_field": "bells",
        "timezone": "America/Chicago",
    }
    response = h.client.patch(f"/v1/districts/{DISTRICT}", json=changes, headers=h.admin())
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "America/Chicago"
    assert body["options"] == {
        "lane": "big",
        "deactivation_threshold": 0.25,
        "bell_schedule_ext_field": "bells",
        "role_rules": [{"pattern": "^Dean", "role": "SCHOOL_ADMIN"}],
    }
    cleared = h.client.patch(f"/v1/districts/{DISTRICT}", json={"lane": None}, headers=h.admin())
    assert "lane" not in cleared.json()["options"]
    [first, _] = audit_rows(h)
    assert (first.action, first.actor) == ("district.updated", f"admin:{FINGERPRINT}")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"lane": "Not A Lane!"}, "lane name"),
        ({"lane": "nobody-runs-this"}, "not in DEDICATED_LANES"),
        ({"deactivation_threshold": 1.5}, "from 0 to 1"),
        ({"deactivation_threshold": True}, "from 0 to 1"),
        ({"role_rules": [{"pattern": "(", "role": "SCHOOL_ADMIN"}]}, "not a valid regular expression"),
        ({"role_rules": [{"pattern": "Dean", "role": "KING"}]}, "role must be one of"),
        ({"role_rules": "Dean"}, "must be a list"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"colour": "blue"}, "unknown fields: colour"),
        ({}, "nothing to change"),
        ([1], "must be a JSON object"),
    ],
)
def test_patch_district_rejects_invalid_options(h: Harness, body: Any, reason: str) -> None:
    response = h.client.patch(f"/v1/districts/{DISTRICT}", json=body, headers=h.admin())
    assert response.status_code == 422
    assert reason in response.json()["error"]
    assert h.client.get(f"/v1/districts/{DISTRICT}", headers=h.admin()).json()["options"] == {}


def test_patch_district_with_malformed_json_is_400(h: Harness) -> None:
    headers = {**h.admin(), "Content-Type": "application/json"}
    response = h.client.patch(f"/v1/districts/{DISTRICT}", content=b"{nope", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "malformed JSON"}


# --- runs -----------------------------------------------------------------------------------


def test_runs_are_paginated_newest_first(h: Harness) -> None:
    for minute in range(5):
        h.add_run(f"run-{minute}", minutes=minute)
    h.add_run("other", district_id="elsewhere", minutes=9)
    page = h.client.get(f"/v1/districts/{DISTRICT}/runs", params={"limit": 2, "offset": 1}, headers=h.admin())
    body = page.json()
    assert [r["id"] for r in body["runs"]] == ["run-3", "run-2"]
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
    everything = h.client.get(f"/v1/districts/{DISTRICT}/runs", headers=h.admin()).json()
    assert [r["id"] for r in everything["runs"]] == ["run-4", "run-3", "run-2", "run-1", "run-0"]
    assert everything["limit"] == 50


@pytest.mark.parametrize("params", [{"limit": "201"}, {"limit": "0"}, {"limit": "x"}, {"offset": "-1"}])
def test_invalid_paging_is_422(h: Harness, params: dict[str, str]) -> None:
    response = h.client.get(f"/v1/districts/{DISTRICT}/runs", params=params, headers=h.admin())
    assert response.status_code == 422


def test_run_detail_has_duration_and_counters(h: Harness) -> None:
    h.add_run(
        "r1",
        started_at=EPOCH,
        finished_at=EPOCH.replace(minute=1, second=30),
        counters={"staff": {"created": 2}},
        drift=0,
    )
    body = h.client.get("/v1/runs/r1", headers=h.admin()).json()
    assert body["duration_seconds"] == 90.0
    assert (body["counters"], body["drift"], body["status"]) == ({"staff": {"created": 2}}, 0, "succeeded")
    assert h.client.get("/v1/runs/none", headers=h.admin()).status_code == 404


def test_only_held_runs_can_be_approved_or_discarded(h: Harness) -> None:
    h.add_run("done")
    for action in ("approve", "discard"):
        response = h.client.post(f"/v1/runs/done/{action}", headers=h.admin())
        assert response.status_code == 409
        assert "not held" in response.json()["error"]
    assert h.client.post("/v1/runs/missing/approve", headers=h.admin()).status_code == 404


def test_discarding_a_held_run(h: Harness) -> None:
    h.add_run("held", status="held", held_plan={"staff": ["u1", "u2"]})
    assert h.client.get("/v1/runs/held", headers=h.admin()).json()["held_deactivations"] == {"staff": 2}
    response = h.client.post("/v1/runs/held/discard", headers=h.admin())
    assert response.status_code == 200
    assert response.json()["status"] == "discarded"
    assert [(row.action, row.actor) for row in audit_rows(h)] == [("sync.discarded", f"admin:{FINGERPRINT}")]


# --- sync -----------------------------------------------------------------------------------


def test_sync_starts_a_run_then_returns_the_one_in_progress(h: Harness) -> None:
    first = h.client.post(f"/v1/districts/{DISTRICT}/sync", json={"kind": "reconcile"}, headers=h.admin())
    assert first.status_code == 202
    assert first.json()["created"] is True
    second = h.client.post(f"/v1/districts/{DISTRICT}/sync", headers=h.admin())
    assert second.status_code == 202
    assert second.json() == {"run_id": first.json()["run_id"], "created": False}
    [message] = h.messages("ingest")
    assert message.actor_name == "ingest_run"
    assert message.kwargs["run_id"] == first.json()["run_id"]
    with h.rt.engine.connect() as conn:
        run = conn.execute(select(sync_runs)).one()
    assert (run.kind, run.requested_by) == ("reconcile", f"admin:{FINGERPRINT}")


@pytest.mark.parametrize("status", ["disconnected", "needs_reauth"])
def test_sync_of_a_district_that_cannot_sync_is_409(tmp_path: Path, status: str) -> None:
    with Harness.open(tmp_path) as h:
        h.add_district(DISTRICT, status=status)
        response = h.client.post(f"/v1/districts/{DISTRICT}/sync", headers=h.admin())
        assert response.status_code == 409
        assert status in response.json()["error"]
        assert h.all_messages() == []


def test_sync_errors(h: Harness) -> None:
    assert h.client.post(f"/v1/districts/{'f' * 24}/sync", headers=h.admin()).status_code == 404
    bad = h.client.post(f"/v1/districts/{DISTRICT}/sync", json={"kind": "purge"}, headers=h.admin())
    assert bad.status_code == 422
    h.break_broker()
    # The run and its ingest message commit together: the relay publishes it once the broker is back.
    down = h.client.post(f"/v1/districts/{DISTRICT}/sync", headers=h.admin())
    assert down.status_code == 202
    with h.rt.engine.connect() as conn:
        (left,) = outbox.pending(conn)
    assert left["message"]["kwargs"]["run_id"] == down.json()["run_id"] and left["attempts"] == 1
