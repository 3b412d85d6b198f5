"""Data API: envelopes, pagination, filters, errors, request log (in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from httpx import Client

from simulator.state import SimulatorState
from simulator.testing import in_process_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[Client, SimulatorState, dict[str, str]]]:
    with in_process_simulator(schools=3) as (client, state):
        token = state.token_of(next(iter(state.districts)))
        assert token
        yield client, state, {"Authorization": f"Bearer {token}"}


def crawl(client: Client, headers: dict[str, str], url: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        r = client.get(next_url, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["data"]
        pages += 1
        next_url = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
    return items, pages


def test_default_limit_and_envelope(sim: Any) -> None:
    client, _state, headers = sim
    r = client.get("/v3.0/users", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert len(body["data"]) == 100
    first = body["data"][0]
    assert set(first) == {"data", "uri"} and first["uri"] == f"/v3.0/users/{first['data']['id']}"
    ids = [i["data"]["id"] for i in body["data"]]
    assert ids == sorted(ids)
    assert body["links"] == [
        {"rel": "self", "uri": "/v3.0/users"},
        {"rel": "next", "uri": f"/v3.0/users?starting_after={ids[-1]}"},
    ]


def test_crawl_returns_everything_in_order_with_limit_preserved(sim: Any) -> None:
    client, state, headers = sim
    store = next(iter(state.districts.values()))
    items, pages = crawl(client, headers, "/v3.0/sections?limit=250")
    ids = [i["data"]["id"] for i in items]
    assert ids == store.collections["sections"].ids
    assert pages == -(-len(ids) // 250)
    r = client.get("/v3.0/sections?limit=250", headers=headers)
    assert r.json()["links"][-1]["uri"].startswith("/v3.0/sections?limit=250&starting_after=")


def test_role_filter_and_param_preserved(sim: Any) -> None:
    client, state, headers = sim
    store = next(iter(state.districts.values()))
    items, _ = crawl(client, headers, "/v3.0/users?role=teacher&limit=40")
    assert all("teacher" in i["data"]["roles"] for i in items)
    assert [i["data"]["id"] for i in items] == store.collections["users"].id_list("teacher")
    r = client.get("/v3.0/users?role=teacher&limit=40", headers=headers)
    assert "role=teacher" in r.json()["links"][-1]["uri"]
    assert client.get("/v3.0/users?role=principal", headers=headers).status_code == 400


def test_limits(sim: Any) -> None:
    client, _, headers = sim
    r = client.get("/v3.0/users?limit=10000", headers=headers)
    assert r.status_code == 200 and "next" not in [link["rel"] for link in r.json()["links"]]
    r = client.get("/v3.0/users?limit=10001", headers=headers)
    assert r.status_code == 413 and "message" in r.json()
    assert client.get("/v3.0/users?limit=abc", headers=headers).status_code == 400


def test_starting_after_and_ending_before(sim: Any) -> None:
    client, state, headers = sim
    ids = next(iter(state.districts.values())).collections["schools"].ids
    r = client.get(f"/v3.0/schools?starting_after={ids[0]}&limit=1", headers=headers)
    body = r.json()
    assert [i["data"]["id"] for i in body["data"]] == [ids[1]]
    rels = {link["rel"]: link["uri"] for link in body["links"]}
    assert rels["prev"] == f"/v3.0/schools?limit=1&ending_before={ids[1]}"
    assert rels["next"] == f"/v3.0/schools?limit=1&starting_after={ids[1]}"
    r = client.get(f"/v3.0/schools?ending_before={ids[2]}&limit=5", headers=headers)
    assert [i["data"]["id"] for i in r.json()["data"]] == ids[:2]
    r = client.get(f"/v3.0/schools?starting_after={ids[-1]}", headers=headers)
    assert r.json()["data"] == [] and [x["rel"] for x in r.json()["links"]] == ["self"]


def test_single_objects_and_404(sim: Any) -> None:
    client, state, headers = sim
    store = next(iter(state.districts.values()))
    for resource in ("schools", "users", "sections", "terms", "courses"):
        obj_id = store.collections[resource].ids[-1]
        r = client.get(f"/v3.1/{resource}/{obj_id}", headers=headers)
        assert r.status_code == 200
        assert r.json() == {
            "data": store.get(resource, obj_id),
            "links": [{"rel": "self", "uri": f"/v3.1/{resource}/{obj_id}"}],
        }
        r = client.get(f"/v3.0/{resource}/000000000000000000000000", headers=headers)
        assert r.status_code == 404 and r.json()["message"]


def test_districts(sim: Any) -> None:
    client, state, headers = sim
    store = next(iter(state.districts.values()))
    body = client.get("/v3.0/districts", headers=headers).json()
    assert [i["data"]["id"] for i in body["data"]] == [store.id]
    assert body["data"][0]["uri"] == f"/v3.0/districts/{store.id}"
    assert body["links"] == [{"rel": "self", "uri": "/v3.0/districts"}]
    assert client.get(f"/v3.0/districts/{store.id}", headers=headers).json()["data"]["id"] == store.id
    assert client.get("/v3.0/districts/ffffffffffffffffffffffff", headers=headers).status_code == 404
    me = client.get("/v3.0/me", headers=headers).json()
    assert me["type"] == "district" and me["data"]["id"] == store.id


def test_auth_errors(sim: Any) -> None:
    client, _, _ = sim
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = client.get("/v3.0/users", headers=headers)
        assert r.status_code == 401 and r.json() == {"message": "Invalid auth"}


def test_headers_on_data_responses(sim: Any) -> None:
    client, _, headers = sim
    r = client.get("/v3.0/terms", headers=headers)
    assert r.headers["x-ratelimit-bucket"] == "bearer"
    assert int(r.headers["x-ratelimit-limit"]) == 1200
    assert 0 <= int(r.headers["x-ratelimit-remaining"]) < 1200
    assert int(r.headers["x-ratelimit-reset"]) > 1_600_000_000
    assert len(r.headers["clever-request-id"]) == 32


def test_request_log_records_query_pairs(sim: Any) -> None:
    client, _state, headers = sim
    client.delete("/_sim/requests")
    client.get("/v3.0/events?record_type=users&record_type=sections&limit=5", headers=headers)
    client.get("/v3.0/users/abc/mystudents", headers=headers)
    log = client.get("/_sim/requests").json()["requests"]
    assert [e["path"] for e in log] == ["/v3.0/events", "/v3.0/users/abc/mystudents"]
    assert log[0]["query"] == [["record_type", "users"], ["record_type", "sections"], ["limit", "5"]]
    assert log[0]["token"] == headers["Authorization"].split()[1] and log[0]["status"] == 200
    assert log[1]["status"] == 404
    assert client.delete("/_sim/requests").status_code == 200
    assert client.get("/_sim/requests").json()["requests"] == []


def test_snapshot_matches_api(sim: Any) -> None:
    client, state, headers = sim
    store = next(iter(state.districts.values()))
    snap = client.get(f"/_sim/districts/{store.id}/snapshot").json()
    items, _ = crawl(client, headers, "/v3.0/users?limit=10000")
    assert snap["users"] == [i["data"] for i in items]
    assert {u["id"] for u in snap["users_by_role"]["staff"]} == set(
        store.collections["users"].id_list("staff")
    )
    assert snap["district"]["id"] == store.id and len(snap["schools"]) == 3
    info = client.get("/_sim/districts").json()["districts"][0]
    assert info["id"] == store.id and info["counts"]["schools"] == 3 and info["token"]
