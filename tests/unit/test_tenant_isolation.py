"""Tenant isolation, generated from the app's own route table: every /v1 route by (a district
admin of the owning tenant, a district admin of another tenant, an operator, no credentials).

A route added later is in the matrix by itself: a path parameter without a sample here fails the
test until one is added, and a route that forgets the tenant check answers another tenant with
something other than 404 (or shows it the owner's ids).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine, select
from starlette.routing import Route
from test_gateway_support import Harness

from domain.entities import BellPeriod, BellSchedule, ScheduleSource
from gateway.app import build_app
from gateway.contract import OPERATIONS
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage import failed_messages
from storage.migrate import upgrade
from storage.read_models import record_audit
from storage.schedules import save_schedule
from storage.tables import deletion_receipts, metadata

KEY_ID, KEY_SECRET = "k1", "isolation-test-identity-key-0123456789"
IDENTITY_KEYS = (f"{KEY_ID}:{KEY_SECRET}",)
TENANTS = {"a": "tenant-a", "b": "tenant-b"}
DISTRICTS = {"a": "aaaaaaaaaaaaaaaaaaaaaa01", "b": "bbbbbbbbbbbbbbbbbbbbbb02"}
SCHOOLS = {"a": "aaaaaaaaaaaaaaaaaaaaaa11", "b": "bbbbbbbbbbbbbbbbbbbbbb12"}
STAFF = {"a": "aaaaaaaaaaaaaaaaaaaaaa21", "b": "bbbbbbbbbbbbbbbbbbbbbb22"}
RUNS = {"a": "run-a-held", "b": "run-b-held"}
FAILED_IDS = {"a": 1, "b": 2}

# Path parameter → the sample of each tenant. A route with a parameter not listed here fails.
PATH_SAMPLES: dict[str, dict[str, str]] = {
    "district_id": DISTRICTS,
    "school_id": SCHOOLS,
    "clever_id": STAFF,
    "run_id": RUNS,
    "failed_id": {k: str(v) for k, v in FAILED_IDS.items()},
}
# Bodies a route needs to get past validation, so the tenant check is what answers.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/districts/{district_id}"): {"deactivation_threshold": 0.25},
    ("POST", "/v1/districts/{district_id}/sync"): {"kind": "full"},
    ("PATCH", "/v1/staff/{clever_id}"): {"role": "SCHOOL_ADMIN"},
    ("PUT", "/v1/districts/{district_id}/schools/{school_id}/bell-schedule"): {
        "periods": [{"label": "Period 1", "start": "08:00", "end": "08:50"}]
    },
}
# Routes that take a district in the query string, read from the contract so that a query
# parameter added later is covered: naming another tenant's district is 404, as in a path.
QUERY_DISTRICT = {
    path
    for (_, path), op in OPERATIONS.items()
    if path.startswith("/v1") and op.query is not None and "district_id" in op.query.model_fields
}
WHO = ("own", "other", "operator", "anonymous")


def v1_routes() -> list[tuple[str, str]]:
    app = build_app(Runtime(Settings()))
    found = sorted(
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/v1")
        for method in (route.methods or ())
        if method != "HEAD"
    )
    assert len(found) >= 20, found  # the table was read, not an empty app
    return found


ROUTES = v1_routes()


def assertion(role: str, tenant: str | None) -> dict[str, str]:
    claims: dict[str, Any] = {"sub": f"{role}-1", "role": role, "aud": "rostersync", "exp": time.time() + 600}
    if tenant is not None:
        claims["tenant"] = tenant
    token = jwt.encode(claims, KEY_SECRET, algorithm="HS256", headers={"kid": KEY_ID})
    return {"Authorization": f"Bearer {token}"}


def credentials(who: str) -> dict[str, str]:
    return {
        "own": assertion("district_admin", TENANTS["a"]),
        "other": assertion("district_admin", TENANTS["b"]),
        "operator": assertion("operator", None),
        "anonymous": {},
    }[who]


def seed(h: Harness) -> None:
    """Two districts of two tenants, each with a school, a staff member, a held run, a manual
    bell schedule, an audit row, a deletion receipt and a failed message."""
    for side in ("a", "b"):
        district = DISTRICTS[side]
        h.add_district(district, tenant_id=TENANTS[side])
        h.add_school(SCHOOLS[side], district)
        h.add_staff(STAFF[side], district)
        h.add_run(RUNS[side], district, status="held", held_plan={}, counters={})
        now = datetime.now(UTC)
        with h.rt.engine.begin() as conn:
            period = BellPeriod("Period 1", "08:00", "08:50")
            save_schedule(conn, district, BellSchedule(SCHOOLS[side], ScheduleSource.MANUAL, (period,)))
            record_audit(
                conn, district_id=district, actor="seed", action="seeded", subject=district, details={}
            )
            conn.execute(
                deletion_receipts.insert().values(
                    district_id=district, requested_by="seed", counts={}, tenant_id=TENANTS[side]
                )
            )
            failed_messages.record(
                conn,
                failed_messages.Failure(
                    message_id=f"msg-{side}",
                    queue="apply",
                    actor="apply_page",
                    district_id=district,
                    idempotency_key=None,
                    cause="seeded",
                    attempts=1,
                    first_failed_at=now,
                    last_failed_at=now,
                    message={
                        "queue_name": "apply",
                        "actor_name": "apply_page",
                        "args": [],
                        "kwargs": {},
                        "message_id": f"msg-{side}",
                    },
                ),
            )


def snapshot(engine: Engine, h: Harness) -> str:
    """Every row of every table, and every message on the broker."""
    rows: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    rows["broker"] = sorted(m.message_id for m in h.all_messages())
    return json.dumps(rows, sort_keys=True, default=str)


def request(h: Harness, method: str, template: str, who: str, side: str = "a") -> Any:
    path = template
    for name in Route(template, lambda r: None).param_convertors:
        assert name in PATH_SAMPLES, f"no sample for path parameter {name!r} of {method} {template}: add one"
        path = path.replace("{" + name + "}", PATH_SAMPLES[name][side])
    params = {"district_id": DISTRICTS[side]} if template in QUERY_DISTRICT else None
    body = BODIES.get((method, template))
    return h.client.request(method, path, headers=credentials(who), json=body, params=params)


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file, copied for each case (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "gateway.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def h(tmp_path: Path, migrated_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    shutil.copy(migrated_db, tmp_path / "gateway.sqlite3")
    with Harness.open(tmp_path, identity_keys=IDENTITY_KEYS) as harness:
        seed(harness)
        yield harness


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_matrix(h: Harness, method: str, template: str, who: str) -> None:
    before = snapshot(h.rt.engine, h)
    response = request(h, method, template, who)
    status = response.status_code
    assert status < 500, response.text
    if who == "anonymous":
        assert status == 401, response.text
    elif who == "other":
        # Another tenant's objects do not exist for this admin; listings show none of them.
        if "{" in template or template in QUERY_DISTRICT:
            assert status == 404, f"{method} {template} answered another tenant {status}: {response.text}"
        else:  # a listing of everything reachable: without the other tenant's rows
            assert status == 200, response.text
        for side_a_id in (*DISTRICTS.values(), *SCHOOLS.values(), *STAFF.values(), *RUNS.values()):
            if side_a_id.startswith(("a", "run-a")):
                assert side_a_id not in response.text, f"{method} {template} leaked {side_a_id}"
    else:
        assert status not in (401, 403, 404), f"{who}: {method} {template} → {status} {response.text}"
    if who in ("anonymous", "other"):
        assert snapshot(h.rt.engine, h) == before, "a refused request changed something"


def test_the_other_tenant_reaches_its_own_objects(h: Harness) -> None:
    """The same admin of tenant b is refused a's objects (above) but reaches b's: the 404s are
    the tenant check, not a broken fixture."""
    for method, template in ROUTES:
        if method == "GET":
            response = request(h, method, template, "other", side="b")
            assert response.status_code == 200, f"{template}: {response.text}"


def test_the_matrix_covers_query_string_district_ids() -> None:
    assert {"/v1/audit", "/v1/failed-messages", "/v1/staff/{clever_id}"} <= QUERY_DISTRICT


def test_listings_are_per_tenant(h: Harness) -> None:
    districts = h.client.get("/v1/districts", headers=credentials("own")).json()["districts"]
    assert [d["id"] for d in districts] == [DISTRICTS["a"]]
    everyone = h.client.get("/v1/districts", headers=credentials("operator")).json()["districts"]
    assert sorted(d["id"] for d in everyone) == sorted(DISTRICTS.values())
    audit = h.client.get("/v1/audit", headers=credentials("own")).json()["audit"]
    assert {row["district_id"] for row in audit} == {DISTRICTS["a"]}
    failed = h.client.get("/v1/failed-messages", headers=credentials("other")).json()["failed_messages"]
    assert {row["district_id"] for row in failed} == {DISTRICTS["b"]}


def test_an_unowned_connection_is_for_operators_only(h: Harness) -> None:
    orphan = "cccccccccccccccccccccc03"
    h.add_district(orphan)  # connected before tenants existed
    assert h.client.get(f"/v1/districts/{orphan}", headers=credentials("own")).status_code == 404
    assert h.client.get(f"/v1/districts/{orphan}", headers=credentials("operator")).status_code == 200


def test_only_operators_set_a_lane(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEDICATED_LANES", "big")
    path = f"/v1/districts/{DISTRICTS['a']}"
    refused = h.client.patch(path, json={"lane": "big"}, headers=credentials("own"))
    assert refused.status_code == 403 and refused.json() == {"error": "only an operator may do this"}
    assert h.client.patch(path, json={"lane": "big"}, headers=credentials("operator")).status_code == 200
