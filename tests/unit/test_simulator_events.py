"""Mutations record Clever-shaped events; the /events feed pages, filters, expires and can be switched off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from httpx import Client

from simulator.diffs import previous_attributes
from simulator.state import SimulatorState
from simulator.store import DistrictStore
from simulator.testing import in_process_simulator

Sim = tuple[Client, SimulatorState, DistrictStore, dict[str, str]]


@pytest.fixture()
def sim() -> Iterator[Sim]:
    with in_process_simulator(schools=2) as (client, state):
        store = next(iter(state.districts.values()))
        token = state.token_of(store.id)
        yield client, state, store, {"Authorization": f"Bearer {token}"}


def mutate(client: Client, store: DistrictStore, *ops: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post(f"/_sim/districts/{store.id}/mutate", json=list(ops))
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def events(client: Client, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    r = client.get(f"/v3.0/events{query}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_feed_starts_with_nightly_districts_updated(sim: Sim) -> None:
    client, _, _store, headers = sim
    body = events(client, headers)
    assert [e["data"]["type"] for e in body["data"]] == ["districts.updated"]
    assert "last_sync" in body["data"][0]["data"]["data"]["previous_attributes"]


def test_update_event_wire_shape(sim: Sim) -> None:
    client, _, store, headers = sim
    user_id = store.collections["users"].id_list("teacher")[3]
    before = store.get("users", user_id)
    assert before is not None
    [result] = mutate(
        client,
        store,
        {
            "op": "update",
            "resource": "users",
            "id": user_id,
            "data": {"name": {"last": "O'Connor"}, "roles": {"teacher": {"title": "Coach"}}},
        },
    )
    latest = events(client, headers, "?ending_before=last&limit=1")["data"]
    assert len(latest) == 1
    item = latest[0]
    event = item["data"]
    assert item["uri"] == f"/v3.0/events/{event['id']}" and event["id"] == result["event_id"]
    assert event["type"] == "users.updated" and event["created"].endswith("Z")
    assert event["data"]["object"] == store.get("users", user_id)
    assert event["data"]["object"]["name"]["last"] == "O'Connor"
    expected_prev: dict[str, Any] = {"name": {"last": before["name"]["last"]}}
    if before["roles"]["teacher"].get("title") != "Coach":
        expected_prev["roles"] = {"teacher": {"title": before["roles"]["teacher"].get("title")}}
    assert event["data"]["previous_attributes"] == expected_prev
    single = client.get(f"/v3.0/events/{event['id']}", headers=headers).json()
    assert single["data"] == event


def test_create_delete_and_reshare(sim: Sim) -> None:
    client, _, store, headers = sim
    school_id = store.collections["schools"].ids[0]
    [created] = mutate(
        client,
        store,
        {
            "op": "create",
            "resource": "users",
            "data": {
                "name": {"first": "Zoë", "last": "D'Angelo"},
                "email": "zoe@example.org",
                "roles": {"staff": {"title": "Counselor", "schools": [school_id]}},
            },
        },
    )
    uid = created["id"]
    assert uid > store.collections["users"].ids[-2]  # new objects sort last, like Clever's ids
    assert client.get(f"/v3.0/users/{uid}", headers=headers).status_code == 200
    [deleted] = mutate(client, store, {"op": "delete", "resource": "users", "id": uid})
    assert client.get(f"/v3.0/users/{uid}", headers=headers).status_code == 404
    feed = events(client, headers, f"?starting_after={created['event_id']}")["data"]
    assert [e["data"]["type"] for e in feed] == ["users.deleted"]
    assert (
        feed[0]["data"]["data"]["object"]["id"] == uid
        and "previous_attributes" not in feed[0]["data"]["data"]
    )
    assert deleted["event_id"] == feed[0]["data"]["id"]
    # Re-sharing brings the same id back with a .created event.
    [again] = mutate(client, store, {"op": "create", "resource": "users", "data": created["object"]})
    assert again["id"] == uid and client.get(f"/v3.0/users/{uid}", headers=headers).status_code == 200


def test_event_ids_strictly_increase_and_record_type_filter(sim: Sim) -> None:
    client, _, store, headers = sim
    section_id = store.collections["sections"].ids[0]
    term_id = store.collections["terms"].ids[0]
    ops = []
    for i in range(30):
        ops.append({"op": "update", "resource": "sections", "id": section_id, "data": {"period": f"P{i}"}})
        ops.append({"op": "update", "resource": "terms", "id": term_id, "data": {"name": f"T{i}"}})
    results = mutate(client, store, *ops)
    ids = [r["event_id"] for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 60
    seen: list[dict[str, Any]] = []
    url: str | None = "/v3.0/events?record_type=sections&limit=7"
    while url:
        body = client.get(url, headers=headers).json()
        seen += body["data"]
        url = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
        if url:
            assert "record_type=sections" in url and "limit=7" in url
    assert [e["data"]["type"] for e in seen] == ["sections.updated"] * 30
    both = events(client, headers, "?record_type=sections&record_type=terms&limit=1000")["data"]
    assert len(both) == 60
    assert client.get("/v3.0/events?record_type=bogus", headers=headers).status_code == 400
    section = store.get("sections", section_id)
    assert section is not None
    by_school = events(client, headers, f"?school={section['school']}&record_type=sections&limit=1000")[
        "data"
    ]
    assert len(by_school) == 30
    other_school = (
        store.collections["schools"].ids[-1]
        if section["school"] == store.collections["schools"].ids[0]
        else store.collections["schools"].ids[0]
    )
    assert events(client, headers, f"?school={other_school}&record_type=sections")["data"] == []


def test_no_event_when_nothing_changes(sim: Sim) -> None:
    client, _, store, _ = sim
    term = store.get("terms", store.collections["terms"].ids[0])
    assert term is not None
    [result] = mutate(
        client, store, {"op": "update", "resource": "terms", "id": term["id"], "data": {"name": term["name"]}}
    )
    assert result["event_id"] is None


def test_unset_and_section_roster_change(sim: Sim) -> None:
    client, _, store, _ = sim
    multi = next(
        u
        for u in (store.get("users", i) for i in store.collections["users"].ids)
        if u and {"teacher", "staff"} <= set(u["roles"])
    )
    [r] = mutate(
        client, store, {"op": "update", "resource": "users", "id": multi["id"], "unset": ["roles.staff"]}
    )
    assert "staff" not in r["object"]["roles"]
    assert multi["id"] not in store.collections["users"].id_list("staff")
    section = store.get("sections", store.collections["sections"].ids[1])
    assert section is not None
    [r] = mutate(
        client, store, {"op": "update", "resource": "sections", "id": section["id"], "data": {"students": []}}
    )
    event = store.get_event(r["event_id"])
    assert event is not None and b'"previous_attributes":{"students":[' in event.blob


def test_bulk_remove_users(sim: Sim) -> None:
    client, _, store, headers = sim
    before = len(store.collections["users"].id_list("teacher"))
    r = client.post(f"/_sim/districts/{store.id}/users/remove", json={"role": "teacher", "count": 5})
    assert r.status_code == 200 and len(r.json()["removed"]) == 5
    assert len(store.collections["users"].id_list("teacher")) == before - 5
    feed = events(client, headers, "?ending_before=last&limit=5")["data"]
    assert [e["data"]["type"] for e in feed] == ["users.deleted"] * 5


def test_expired_cursor_is_404_and_events_can_be_disabled(sim: Sim) -> None:
    client, _, store, headers = sim
    old = events(client, headers)["data"][0]["data"]["id"]
    mutate(client, store, {"op": "update", "resource": "districts", "data": {"name": "Renamed District"}})
    assert client.get(f"/v3.0/events?starting_after={old}", headers=headers).status_code == 200
    r = client.post("/_sim/events/expire", json={"count": 1})
    assert r.json()["removed"] == {store.id: 1}
    r = client.get(f"/v3.0/events?starting_after={old}", headers=headers)
    assert r.status_code == 404 and r.json()["message"]
    assert (
        client.get("/v3.0/events?starting_after=000000000000000000000000", headers=headers).status_code == 404
    )
    client.post("/_sim/events/config", json={"enabled": False})
    r = client.get("/v3.0/events", headers=headers)
    assert r.status_code == 403 and "not enabled" in r.json()["message"]
    client.post("/_sim/events/config", json={"enabled": True})
    client.post("/_sim/events/expire", json={"all": True})
    assert events(client, headers, "?ending_before=last&limit=1")["data"] == []


def test_previous_attributes_diff() -> None:
    old = {"a": 1, "n": {"x": 1, "y": [1, 2]}, "gone": "v", "last_modified": "t1"}
    new = {"a": 1, "n": {"x": 2, "y": [1, 2], "z": 3}, "last_modified": "t2"}
    assert previous_attributes(old, new) == {"gone": "v", "n": {"x": 1, "z": None}}
