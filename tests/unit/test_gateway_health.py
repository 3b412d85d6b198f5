from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_gateway_support import Harness

from gateway.app import build_app
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage.migrate import upgrade


def test_healthz_and_readyz(tmp_path: Path) -> None:
    with Harness.open(tmp_path) as h:
        assert h.client.get("/healthz").json() == {"status": "ok"}
        assert h.client.get("/readyz").json() == {
            "status": "ready",
            "checks": {"database": "ok", "broker": "ok", "schema": "ok"},
        }


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "db.sqlite3"
    rt = Runtime(Settings(database_url=f"sqlite:///{missing}"), broker=make_broker(None))
    with TestClient(build_app(rt)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "error": "database unreachable",
        "checks": {"database": "database unreachable", "broker": "ok", "schema": "not checked"},
    }
    assert int(response.headers["retry-after"]) > 0


def test_readyz_is_503_when_the_schema_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0003")
    rt = Runtime(Settings(database_url=url), broker=make_broker(None))
    with TestClient(build_app(rt)) as client:
        response = client.get("/readyz")
    rt.engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["schema"].startswith("schema at migration 0003, this release needs ")
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_is_503_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    with Harness.open(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1/%2F") as h:
        response = h.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "error": "message broker unreachable",
        "checks": {"database": "ok", "broker": "message broker unreachable", "schema": "ok"},
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/nowhere", 404, "not found"),
        ("DELETE", "/webhooks/clever", 405, "method not allowed"),
    ],
)
def test_routing_errors_are_json(tmp_path: Path, method: str, path: str, status: int, reason: str) -> None:
    with Harness.open(tmp_path) as h:
        response = h.client.request(method, path)
    assert response.status_code == status
    assert response.json() == {"error": reason}
