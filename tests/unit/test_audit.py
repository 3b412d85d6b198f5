"""The audit log: every action a person or operator takes is recorded with who, what and when,
read per tenant through GET /v1/audit; log lines never name the person; a purge leaves only the
district's receipt."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs
from test_gateway_support import ADMIN_TOKEN, FINGERPRINT, Harness
from test_tenant_isolation import (
    DISTRICTS,
    FAILED_IDS,
    IDENTITY_KEYS,
    RUNS,
    SCHOOLS,
    STAFF,
    credentials,
    seed,
)

from services.lifecycle import purge_district
from storage.migrate import upgrade
from storage.tables import audit_log, deletion_receipts

OWN_ACTOR = "district_admin:district_admin-1@tenant-a"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "gateway.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def h(tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    shutil.copy(migrated, tmp_path / "gateway.sqlite3")
    with Harness.open(tmp_path, identity_keys=IDENTITY_KEYS) as harness:
        seed(harness)
        yield harness


def act_as_own_admin(h: Harness) -> None:
    """Every kind of action a district admin takes, each expected to succeed."""
    district, school = DISTRICTS["a"], SCHOOLS["a"]
    me = credentials("own")
    calls: list[tuple[str, str, Any]] = [
        ("PATCH", f"/v1/districts/{district}", {"deactivation_threshold": 0.3}),
        ("POST", f"/v1/runs/{RUNS['a']}/discard", None),
        ("POST", f"/v1/districts/{district}/sync", {"kind": "full"}),  # after: it supersedes held runs
        ("PATCH", f"/v1/staff/{STAFF['a']}", {"role": "SCHOOL_ADMIN"}),
        ("PUT", f"/v1/districts/{district}/schools/{school}/bell-schedule", {
            "periods": [{"label": "Period 1", "start": "08:00", "end": "08:45"}]
        }),
        ("POST", f"/v1/failed-messages/{FAILED_IDS['a']}/replay", None),
        ("POST", f"/v1/districts/{district}/disconnect", None),
        ("POST", f"/v1/districts/{district}/deletion", None),
    ]  # fmt: skip
    for method, path, body in calls:
        response = h.client.request(method, path, json=body, headers=me)
        assert response.status_code < 300, f"{method} {path}: {response.text}"


def test_every_action_is_recorded_with_who_what_and_when(h: Harness) -> None:
    with capture_logs() as logs:
        act_as_own_admin(h)
        listing = h.client.get("/v1/audit", headers=credentials("own")).json()
    mine = [row for row in listing["audit"] if row["actor"] == OWN_ACTOR]
    assert {row["action"] for row in mine} == {
        "district.updated",
        "sync.requested",
        "staff.role_override_set",
        "bell_schedule.manual_saved",
        "sync.discarded",
        "failed_message.replayed",
        "district.disconnected",
        "district.deletion_requested",
    }
    assert all(row["district_id"] == DISTRICTS["a"] and row["at"] for row in mine)
    ids = [row["id"] for row in listing["audit"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    # Who acted is in the audit log, never in a log line.
    assert [e for e in logs if "district_admin-1" in json.dumps(e, default=str)] == []


def test_audit_is_per_tenant_and_operators_filter_by_district(h: Harness) -> None:
    act_as_own_admin(h)
    other = h.client.get("/v1/audit", headers=credentials("other")).json()["audit"]
    assert other and {row["district_id"] for row in other} == {DISTRICTS["b"]}
    refused = h.client.get("/v1/audit", params={"district_id": DISTRICTS["a"]}, headers=credentials("other"))
    assert refused.status_code == 404 and refused.json() == {"error": "district not found"}
    operator = credentials("operator")
    everyone = h.client.get("/v1/audit", params={"limit": 200}, headers=operator).json()["audit"]
    assert {row["district_id"] for row in everyone} == set(DISTRICTS.values())
    only_b = h.client.get("/v1/audit", params={"district_id": DISTRICTS["b"]}, headers=operator).json()[
        "audit"
    ]
    assert {row["district_id"] for row in only_b} == {DISTRICTS["b"]}


def test_operator_tokens_are_recorded_by_fingerprint(h: Harness) -> None:
    path = f"/v1/districts/{DISTRICTS['b']}/sync"
    # The district's held run waits for a decision before any new sync starts.
    assert h.client.post(f"/v1/runs/{RUNS['b']}/discard", headers=h.admin(ADMIN_TOKEN)).status_code == 200
    assert h.client.post(path, headers=h.admin(ADMIN_TOKEN)).status_code == 202
    rows = h.client.get("/v1/audit", params={"district_id": DISTRICTS["b"]}, headers=h.admin()).json()[
        "audit"
    ]
    assert rows[0]["action"] == "sync.requested" and rows[0]["actor"] == f"admin:{FINGERPRINT}"
    assert ADMIN_TOKEN not in json.dumps(rows)


def test_audit_pages_follow_the_cursor(h: Harness) -> None:
    act_as_own_admin(h)
    me = credentials("own")
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **({"before": cursor} if cursor else {})}
        page = h.client.get("/v1/audit", params=params, headers=me).json()
        assert len(page["audit"]) <= 3
        seen += [row["id"] for row in page["audit"]]
        cursor = page["next"]
        if cursor is None:
            break
    everything = h.client.get("/v1/audit", params={"limit": 200}, headers=me).json()["audit"]
    assert seen == [row["id"] for row in everything] and len(seen) > 3
    bad = h.client.get("/v1/audit", params={"before": "²"}, headers=me)
    assert bad.status_code == 422 and "error" in bad.json()


def test_a_purge_leaves_only_the_receipt_which_its_tenant_still_reads(h: Harness) -> None:
    act_as_own_admin(h)
    purge_district(h.rt, DISTRICTS["a"], actor=OWN_ACTOR)
    with h.rt.engine.connect() as conn:
        left = conn.execute(select(audit_log).where(audit_log.c.district_id == DISTRICTS["a"])).all()
        receipts = conn.execute(
            select(deletion_receipts).where(deletion_receipts.c.district_id == DISTRICTS["a"])
        ).all()
    assert left == []
    assert [r.tenant_id for r in receipts] == ["tenant-a", "tenant-a"]  # the seeded one and the purge's
    path = f"/v1/districts/{DISTRICTS['a']}/deletion-receipts"
    own = h.client.get(path, headers=credentials("own"))
    assert own.status_code == 200 and own.json()["receipts"][-1]["requested_by"] == OWN_ACTOR
    assert h.client.get(path, headers=credentials("other")).status_code == 404
    assert h.client.get("/v1/audit", headers=credentials("own")).json()["audit"] == []
