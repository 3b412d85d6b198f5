"""The simulator as a subprocess driven through ``simulator.testing`` (the helper other tests rely on)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulator.testing import SimulatorHandle, running_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    env = {"CLEVER_CLIENT_ID": "cid-from-env", "CLEVER_CLIENT_SECRET": "secret-from-env"}
    with running_simulator(schools=2, districts=2, seed=5, env=env) as handle:
        yield handle


def test_ready_line_and_env_credentials(sim: SimulatorHandle) -> None:
    assert sim.client_id == "cid-from-env" and sim.client_secret == "secret-from-env"
    assert len(sim.districts) == 2 and all(d.token and len(d.id) == 24 for d in sim.districts)
    assert sim.health()
    assert any(line.startswith("OAuth client_id=cid-from-env") for line in sim.output)
    info = sim.district_info()
    assert [d["id"] for d in info] == [d.id for d in sim.districts]
    assert all(d["counts"]["schools"] == 2 for d in info)


def test_request_log_through_handle(sim: SimulatorHandle) -> None:
    sim.clear_requests()
    sim.api("/v3.0/users", role="teacher", limit=10)
    sim.api("/v3.0/users", role="staff")
    log = sim.requests()
    assert [entry["path"] for entry in log] == ["/v3.0/users", "/v3.0/users"]
    assert not any(dict(entry["query"]).get("role") in ("student", "contact") for entry in log)
    assert log[0]["token"] == sim.district.token


def test_oauth_flow_end_to_end(sim: SimulatorHandle) -> None:
    redirect = "http://localhost:9999/cb"
    second = sim.districts[1]
    with httpx.Client(base_url=sim.base_url, follow_redirects=False) as client:
        r = client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": sim.client_id,
                "redirect_uri": redirect,
                "state": "s1",
                "district_id": second.id,
            },
        )
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        token = client.post(
            "/oauth/tokens",
            auth=(sim.client_id, sim.client_secret),
            json={"code": code, "grant_type": "authorization_code", "redirect_uri": redirect},
        )
        me = client.get(
            "/v3.1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        ).json()
    assert me["data"]["district"] == second.id and me["data"]["type"] == "district_admin"
    sim.deny_next_authorization()
    r = httpx.get(
        f"{sim.base_url}/oauth/authorize",
        params={"response_type": "code", "client_id": sim.client_id, "redirect_uri": redirect, "state": "s2"},
    )
    assert parse_qs(urlsplit(r.headers["location"]).query) == {"error": ["access_denied"], "state": ["s2"]}


def test_mutations_snapshot_faults_and_limits(sim: SimulatorHandle) -> None:
    district = sim.districts[0]
    snap = sim.snapshot(district.id)
    victims = [u["id"] for u in snap["users_by_role"]["teacher"][:3]]
    assert sim.remove_users(district.id, ids=victims) == victims
    after = sim.snapshot(district.id)
    assert len(after["users"]) == len(snap["users"]) - 3
    assert sim.api(f"/v3.0/users/{victims[0]}").status_code == 404
    sim.set_faults(fail_next=[502])
    assert sim.api("/v3.0/terms").status_code == 502
    assert sim.api("/v3.0/terms").status_code == 200
    sim.set_rate_limit(2, 30)
    codes = [sim.api("/v3.0/terms").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    sim.set_rate_limit(1200, 60)
    sim.clear_faults()


def test_events_expire_and_disable(sim: SimulatorHandle) -> None:
    district = sim.districts[1]
    latest = sim.district_info()[1]["latest_event_id"]
    assert sim.api("/v3.0/events", district.id, starting_after=latest).status_code == 200
    assert sim.expire_events(district.id, all=True) == {district.id: 1}
    assert sim.api("/v3.0/events", district.id, starting_after=latest).status_code == 404
    sim.set_events_enabled(False, district.id)
    assert sim.api("/v3.0/events", district.id).status_code == 403
    assert sim.api("/v3.0/events", sim.districts[0].id).status_code == 200
    sim.set_events_enabled(True, district.id)


def test_rotate_revoke_and_add_district(sim: SimulatorHandle) -> None:
    district = sim.districts[0]
    old = district.token
    new = sim.rotate_token(district.id)
    assert district.token == new != old
    assert (
        httpx.get(f"{sim.base_url}/v3.0/schools", headers={"Authorization": f"Bearer {old}"}).status_code
        == 401
    )
    assert sim.api("/v3.0/schools", district.id).status_code == 200
    added = sim.add_district(schools=1, seed=99)
    assert sim.api("/v3.0/schools", added.id).json()["data"]
    sim.revoke_token(added.id)
    listed = httpx.get(
        f"{sim.base_url}/oauth/tokens",
        params={"owner_type": "district"},
        auth=(sim.client_id, sim.client_secret),
    ).json()["data"]
    assert added.id not in {t["owner"]["id"] for t in listed}
    assert district.id in {t["owner"]["id"] for t in listed}


def test_cli_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for flag in (
        "--schools",
        "--port",
        "--seed",
        "--districts",
        "--latency-ms",
        "--error-rate",
        "--rate-limit",
        "--rate-window",
        "--host",
    ):
        assert flag in out.stdout
