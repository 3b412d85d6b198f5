"""The tenant-isolation matrix, smaller, on PostgreSQL: every /v1 route asked by another tenant's
district admin (404 for objects, no leaked ids, nothing written) and every GET by the owner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # the matrix's helpers

from test_gateway_support import Harness
from test_tenant_isolation import (
    DISTRICTS,
    IDENTITY_KEYS,
    ROUTES,
    credentials,
    request,
    seed,
    snapshot,
)

pytestmark = pytest.mark.integration


def test_matrix_on_postgresql(clean_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    keys = (f"it:{Fernet.generate_key().decode()}",)
    with Harness.open(
        tmp_path, database_url=clean_postgres, encryption_keys=keys, identity_keys=IDENTITY_KEYS
    ) as h:
        seed(h)
        before = snapshot(h.rt.engine, h)
        for method, template in ROUTES:
            response = request(h, method, template, "other")
            if "{" in template:
                assert response.status_code == 404, f"{method} {template}: {response.text}"
            else:
                assert response.status_code in (200, 404), f"{method} {template}: {response.text}"
            assert DISTRICTS["a"] not in response.text
        assert snapshot(h.rt.engine, h) == before, "another tenant's requests changed something"
        for method, template in ROUTES:
            if method == "GET":
                response = request(h, method, template, "own")
                assert response.status_code == 200, f"{template}: {response.text}"
        own = h.client.get("/v1/districts", headers=credentials("own")).json()["districts"]
        assert [d["id"] for d in own] == [DISTRICTS["a"]]
