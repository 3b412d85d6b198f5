"""The simulator honours a district token's scopes: no student or contact objects or events without
a scope for them, unless it is told to over-share; the request log counts what it served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clever_client.oauth import SCOPES
from simulator.scopes import Grant, parse_scope_param
from simulator.state import SimulatorState
from simulator.testing import in_process_simulator


@pytest.fixture
def sim() -> Iterator[tuple[httpx.Client, SimulatorState]]:
    with in_process_simulator(schools=1) as pair:
        yield pair


def authorize(client: httpx.Client, state: SimulatorState, scope: str | None) -> dict[str, str]:
    params = {"client_id": state.auth.client_id, "redirect_uri": "https://app/cb", "response_type": "code"}
    if scope is not None:
        params["scope"] = scope
    assert client.get("/oauth/authorize", params=params).status_code == 302
    store = next(iter(state.districts.values()))
    return {"Authorization": f"Bearer {state.token_of(store.id)}"}


def private_ids(state: SimulatorState) -> set[str]:
    users = next(iter(state.districts.values())).collections["users"]
    return set(users.id_list("student")) | set(users.id_list("contact"))


def listed(client: httpx.Client, headers: dict[str, str], path: str) -> list[dict[str, Any]]:
    response = client.get(path, params={"limit": 10000}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["data"] for item in response.json()["data"]]


def add_student_event(state: SimulatorState) -> str:
    store = next(iter(state.districts.values()))
    school = store.collections["schools"].ids[0]
    _, event = store.create("users", {"roles": {"student": {"school": school, "grade": "3"}}})
    return event.id


def test_scope_parameter_and_grants() -> None:
    assert parse_scope_param(None) is None
    assert parse_scope_param("read:a  read:b read:a") == ("read:a", "read:b")
    assert Grant.from_scopes(SCOPES).hidden == {"student", "contact"}
    assert Grant.from_scopes(["read:students_basic", "read:student_contacts"]).hidden == frozenset()
    assert Grant.from_scopes(["read:students_basic"]).hides(["contact"])
    assert not Grant.from_scopes(SCOPES).hides(["teacher", "student"])


def test_a_token_without_student_scopes_sees_no_students(sim: tuple[httpx.Client, SimulatorState]) -> None:
    client, state = sim
    headers = authorize(client, state, " ".join(SCOPES))
    assert state.auth.district_tokens[next(iter(state.districts))].scopes == SCOPES
    student_event = add_student_event(state)
    hidden = private_ids(state)

    users = listed(client, headers, "/v3.0/users")
    assert users and not {u["id"] for u in users} & hidden
    assert client.get("/v3.0/users", params={"role": "student"}, headers=headers).status_code == 403
    assert client.get(f"/v3.0/users/{sorted(hidden)[0]}", headers=headers).status_code == 404
    events = listed(client, headers, "/v3.0/events")
    assert events and student_event not in {e["id"] for e in events}
    assert client.get(f"/v3.0/events/{student_event}", headers=headers).status_code == 404
    assert sum(entry["student_objects"] for entry in state.log.entries()) == 0


def test_over_sharing_serves_students_and_the_log_counts_them(
    sim: tuple[httpx.Client, SimulatorState],
) -> None:
    client, state = sim
    headers = authorize(client, state, " ".join(SCOPES))
    state.honour_scopes = False
    student_event = add_student_event(state)
    hidden = private_ids(state)
    users = listed(client, headers, "/v3.0/users")
    assert {u["id"] for u in users} >= hidden
    assert student_event in {e["id"] for e in listed(client, headers, "/v3.0/events")}
    served = [entry["student_objects"] for entry in state.log.entries()]
    assert served[-2:] == [len(hidden), 1]


def test_an_authorize_without_scope_keeps_what_the_district_shared(
    sim: tuple[httpx.Client, SimulatorState],
) -> None:
    client, state = sim
    headers = authorize(client, state, None)
    assert {u["id"] for u in listed(client, headers, "/v3.0/users")} >= private_ids(state)
