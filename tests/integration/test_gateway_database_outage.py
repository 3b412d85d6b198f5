"""The gateway on real PostgreSQL: NUL bytes anywhere in a request are refused before they reach
the database (PostgreSQL refuses NUL in text, which used to answer 500), and a database that goes
away is a 503 with Retry-After, then service resumes by itself when it is back.

The database is reached through a TCP proxy the test can cut, so the machine's PostgreSQL keeps
running for everyone else.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, create_engine, select, text
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import build_app
from gateway.webhook_signature import signature_header
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage.database import normalize_url
from storage.tables import districts, staff_users, tenants

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location(
    "tcp_proxy", Path(__file__).parents[1] / "e2e" / "tcp_proxy.py"
)
assert _spec is not None and _spec.loader is not None
tcp_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tcp_proxy)

ADMIN_TOKEN = "outage-admin-token"
SECRET = "outage-webhook-secret"
DISTRICT = "5b2ad81a709e300001e2cd7a"
STAFF = "5b2ad81a709e300001e2c0a1"
SCHOOL = "5b2ad81a709e300001e2c051"
VALID = {"district_id": DISTRICT, "clever_id": STAFF, "school_id": SCHOOL}
NUL_BODIES = [
    b'{"kind": "full\\u0000"}',
    b'{"role": "SCHOOL_ADMIN\\u0000"}',
    b'{"timezone": "UTC\\u0000"}',
    b'{"periods": [{"label": "Home\\u0000room", "start": "08:00", "end": "09:00"}]}',
    b'{"id": "6a0000000000000000000001", "type": "schools.updated", "data": {"object": '
    b'{"id": "5b2ad81a709e300001e2c051", "name": "Pine\\u0000apple"}}}',
]

# The routes that read a JSON body (the others ignore theirs).
BODY_ROUTES = {
    ("POST", "/webhooks/clever"),
    ("PATCH", "/v1/districts/{district_id}"),
    ("POST", "/v1/districts/{district_id}/sync"),
    ("PATCH", "/v1/staff/{clever_id}"),
    ("PUT", "/v1/districts/{district_id}/schools/{school_id}/bell-schedule"),
}


@pytest.fixture
def proxy() -> Iterator[Any]:
    p = tcp_proxy.TcpProxy("127.0.0.1", 5432)
    p.start()
    yield p
    p.stop()


@pytest.fixture
def gateway(clean_postgres: str, proxy: Any) -> Iterator[tuple[Runtime, TestClient]]:
    through_proxy = normalize_url(clean_postgres).replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    assert through_proxy != normalize_url(clean_postgres)
    settings = Settings(
        database_url=through_proxy,
        encryption_keys=(f"it:{Fernet.generate_key().decode()}",),
        webhook_secrets=(SECRET,),
        admin_tokens=(ADMIN_TOKEN,),
        public_base_url="https://sync.example.test",
    )
    rt = Runtime(settings, broker=make_broker(None))
    with rt.engine.begin() as conn:
        conn.execute(
            districts.insert().values(id=DISTRICT, name="District", status="active", token_ciphertext="x")
        )
        conn.execute(
            tenants.insert().values(
                district_id=DISTRICT, clever_id=SCHOOL, source_position="p", kind="school", name="School"
            )
        )
        conn.execute(
            staff_users.insert().values(
                district_id=DISTRICT,
                clever_id=STAFF,
                source_position="p",
                first_name="Ada",
                last_name="Lovelace",
                synced_role="CONTRIBUTOR",
                role_reason="teacher",
            )
        )
    try:
        with TestClient(build_app(rt), follow_redirects=False) as client:
            yield rt, client
    finally:
        rt.engine.dispose()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def snapshot(url: str) -> dict[str, list[str]]:
    engine = create_engine(normalize_url(url))
    tables = MetaData()
    tables.reflect(bind=engine)
    with engine.connect() as conn:
        rows = {name: sorted(map(repr, conn.execute(select(t)).all())) for name, t in tables.tables.items()}
    engine.dispose()
    return rows


def operations(client: TestClient) -> list[tuple[str, Route]]:
    routes = [r for r in client.app.router.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    return [(m, r) for r in routes for m in sorted(r.methods or ()) if m != "HEAD"]


def send(client: TestClient, method: str, route: Route, path_params: dict[str, str], **kwargs: Any) -> Any:
    path = route.path
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return client.request(method, path, **kwargs)


def test_nul_anywhere_is_refused_on_postgresql_and_changes_nothing(
    gateway: tuple[Runtime, TestClient], clean_postgres: str
) -> None:
    rt, client = gateway
    before = snapshot(clean_postgres)
    answers: list[tuple[str, str, str, int]] = []
    for method, route in operations(client):
        valid = {name: VALID.get(name, "f" * 24) for name in route.param_convertors}
        for name in route.param_convertors:  # each path parameter with a NUL in it
            for bad in ("\x00", valid[name][:-1] + "\x00"):
                response = send(client, method, route, {**valid, name: bad}, headers=auth())
                answers.append((method, route.path, f"path {name}", response.status_code))
        query = {"district_id": DISTRICT + "\x00", "limit": "5\x00", "state": "\x00", "after": "\x00"}
        response = send(client, method, route, valid, params=query, headers=auth())
        answers.append((method, route.path, "query", response.status_code))
        if (method, route.path) in BODY_ROUTES:
            for body in NUL_BODIES:
                headers = {**auth(), "Content-Type": "application/json"}
                if route.path == "/webhooks/clever":
                    headers["Clever-Signature"] = signature_header(SECRET, int(time.time()), body)
                response = send(client, method, route, valid, content=body, headers=headers)
                answers.append((method, route.path, f"body {json.loads(body)!s:.30}", response.status_code))
    assert {(m, p) for m, p, where, _ in answers if where.startswith("body")} == BODY_ROUTES
    assert len(answers) > 60
    assert [a for a in answers if not 400 <= a[3] < 500] == []
    assert snapshot(clean_postgres) == before
    assert list(rt.broker.queues) == [] or all(q.qsize() == 0 for q in rt.broker.queues.values())  # type: ignore[union-attr]


def test_a_database_outage_is_503_with_retry_after_then_service_resumes(
    gateway: tuple[Runtime, TestClient], proxy: Any
) -> None:
    _, client = gateway
    assert client.get(f"/v1/districts/{DISTRICT}", headers=auth()).status_code == 200
    assert client.get("/readyz").status_code == 200

    proxy.stop()  # PostgreSQL unreachable: open connections cut, new ones refused
    for path in (f"/v1/districts/{DISTRICT}", "/v1/districts", f"/v1/districts/{DISTRICT}/staff"):
        down = client.get(path, headers=auth())
        assert down.status_code == 503, (path, down.text)
        assert down.json() == {"error": "database unavailable; retry later"}
        assert int(down.headers["retry-after"]) > 0
    synced = client.post(f"/v1/districts/{DISTRICT}/sync", headers=auth())
    assert synced.status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "database unreachable",
        "broker": "ok",
        "schema": "not checked",
    }

    proxy.start()  # back: the next request gets a fresh connection
    assert client.get(f"/v1/districts/{DISTRICT}", headers=auth()).status_code == 200
    assert client.get("/readyz").json()["status"] == "ready"


def test_terminated_backends_are_replaced_without_an_error(
    gateway: tuple[Runtime, TestClient], clean_postgres: str
) -> None:
    _, client = gateway
    for _ in range(3):  # fill the pool with more than one connection
        assert client.get(f"/v1/districts/{DISTRICT}/staff", headers=auth()).status_code == 200
    database = normalize_url(clean_postgres).rsplit("/", 1)[1]
    admin = create_engine(normalize_url(clean_postgres), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND application_name = 'rostersync' AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1
    # Pre-ping finds the dead connections at checkout and replaces them: no 500, no 503.
    for _ in range(3):
        assert client.get(f"/v1/districts/{DISTRICT}/staff", headers=auth()).status_code == 200
