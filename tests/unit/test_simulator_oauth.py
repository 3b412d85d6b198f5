"""OAuth: authorize redirect, single-use expiring codes, token listing, tokeninfo, /me, rotate/revoke."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx import BasicAuth, Client

from simulator.state import SimulatorState
from simulator.testing import FakeClock, in_process_simulator

Sim = tuple[Client, SimulatorState, FakeClock]
REDIRECT = "https://app.example.org/clever/callback"


@pytest.fixture()
def sim() -> Iterator[Sim]:
    clock = FakeClock()
    with in_process_simulator(schools=1, districts=2, clock=clock) as (client, state):
        yield client, state, clock


def authorize(client: Client, state_param: str = "xyz", **extra: str) -> dict[str, list[str]]:
    params = {
        "response_type": "code",
        "client_id": "sim-client-id",
        "redirect_uri": REDIRECT,
        "state": state_param,
        **extra,
    }
    r = client.get("/oauth/authorize", params=params)
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def exchange(
    client: Client, code: str, as_json: bool = True, auth: tuple[str, str] | None = None
) -> tuple[int, dict]:
    body = {"code": code, "grant_type": "authorization_code", "redirect_uri": REDIRECT}
    basic = BasicAuth(*(auth or ("sim-client-id", "sim-client-secret")))
    r = (
        client.post("/oauth/tokens", json=body, auth=basic)
        if as_json
        else client.post("/oauth/tokens", data=body, auth=basic)
    )
    return r.status_code, r.json()


def test_code_flow_and_me(sim: Sim) -> None:
    client, state, _ = sim
    district_id = list(state.districts)[1]
    query = authorize(client, district_id=district_id)
    assert query["state"] == ["xyz"]
    status, body = exchange(client, query["code"][0], as_json=False)
    assert status == 200 and body["token_type"] == "bearer" and body["access_token"]
    me = client.get("/v3.0/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    store = state.districts[district_id]
    assert me["type"] == "user"
    assert me["data"] == {
        "id": store.collections["users"].id_list("district_admin")[0],
        "district": district_id,
        "type": "district_admin",
        "authorized_by": "district",
    }
    assert {"rel": "self", "uri": "/me"} in me["links"]
    user_headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get(f"/v3.0/users/{me['data']['id']}", headers=user_headers).status_code == 200
    assert client.get("/v3.0/users", headers=user_headers).status_code == 403  # SSO tokens cannot list


def test_code_single_use_and_expiry(sim: Sim) -> None:
    client, _, clock = sim
    code = authorize(client)["code"][0]
    assert exchange(client, code)[0] == 200
    status, body = exchange(client, code)
    assert status == 400 and body == {
        "error": "invalid_grant",
        "error_description": "Invalid grant: invalid code",
    }
    code = authorize(client)["code"][0]
    clock.advance(61)
    assert exchange(client, code)[0] == 400
    assert exchange(client, "not-a-code")[0] == 400


def test_bad_client(sim: Sim) -> None:
    client, _, _ = sim
    code = authorize(client)["code"][0]
    assert exchange(client, code, auth=("sim-client-id", "wrong"))[0] == 401
    r = client.get(
        "/oauth/authorize", params={"response_type": "code", "client_id": "other", "redirect_uri": REDIRECT}
    )
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    assert client.get("/oauth/tokens?owner_type=district").status_code == 401


def test_access_denied_override(sim: Sim) -> None:
    client, _, _ = sim
    client.post("/_sim/oauth/next", json={"error": "access_denied"})
    query = authorize(client)
    assert query == {"error": ["access_denied"], "state": ["xyz"]}
    assert "code" in authorize(client)  # one-shot


def test_token_listing_rotation_revocation(sim: Sim) -> None:
    client, state, _ = sim
    auth = BasicAuth("sim-client-id", "sim-client-secret")
    body = client.get("/oauth/tokens?owner_type=district", auth=auth).json()
    assert {t["owner"]["id"] for t in body["data"]} == set(state.districts)
    assert body["links"] == [{"rel": "self", "uri": "/oauth/tokens?owner_type=district"}]
    d1, d2 = list(state.districts)
    item = client.get(f"/oauth/tokens?owner_type=district&district={d1}", auth=auth).json()["data"]
    assert len(item) == 1 and set(item[0]) == {"id", "created", "owner", "access_token", "scopes"}
    old = item[0]["access_token"]
    assert "read:sections" in item[0]["scopes"] and len(old) == 40
    info = client.get("/oauth/tokeninfo", headers={"Authorization": f"Bearer {old}"}).json()
    assert info == {"client_id": "sim-client-id", "scopes": item[0]["scopes"]}

    new = client.post(f"/_sim/districts/{d1}/tokens/rotate").json()["token"]
    assert new != old
    assert client.get("/v3.0/schools", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.get("/v3.0/schools", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    listed = client.get(f"/oauth/tokens?owner_type=district&district={d1}", auth=auth).json()["data"]
    assert [t["access_token"] for t in listed] == [new]

    client.post(f"/_sim/districts/{d1}/tokens/revoke")
    assert client.get("/v3.0/schools", headers={"Authorization": f"Bearer {new}"}).status_code == 401
    assert client.get(f"/oauth/tokens?district={d1}", auth=auth).json()["data"] == []
    remaining = client.get("/oauth/tokens?owner_type=district", auth=auth).json()["data"]
    assert [t["owner"]["id"] for t in remaining] == [d2]
    assert client.get("/oauth/tokeninfo", headers={"Authorization": f"Bearer {new}"}).status_code == 401
