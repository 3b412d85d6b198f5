"""The simulator's consent screen: a browser sees Approve / Deny, and its decision ends the
authorize request as Clever's does (a code, or error=access_denied); scripts still get a code at
once while the screen is off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from httpx import Client

from simulator.state import SimulatorState
from simulator.testing import in_process_simulator

REDIRECT = "https://app.example.org/clever/callback"
PARAMS = {
    "response_type": "code",
    "client_id": "sim-client-id",
    "redirect_uri": REDIRECT,
    "state": "st-1",
    "scope": "read:user_id read:sections",
}


@pytest.fixture()
def sim() -> Iterator[tuple[Client, SimulatorState]]:
    with in_process_simulator(schools=1, consent_screen=True) as pair:
        yield pair


def form_fields(html: str) -> dict[str, str]:
    return {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    }


def test_a_browser_is_shown_the_scopes_and_both_buttons(sim: tuple[Client, SimulatorState]) -> None:
    client, _ = sim
    page = client.get("/oauth/authorize", params=PARAMS)
    assert page.status_code == 200
    assert "read:sections" in page.text and 'id="approve"' in page.text and 'id="deny"' in page.text
    assert form_fields(page.text) == PARAMS


@pytest.mark.parametrize(("decision", "expected"), [("approve", "code"), ("deny", "error")])
def test_the_decision_ends_in_a_code_or_a_refusal(
    sim: tuple[Client, SimulatorState], decision: str, expected: str
) -> None:
    client, _ = sim
    fields = form_fields(client.get("/oauth/authorize", params=PARAMS).text)
    answer = client.post("/oauth/authorize", data={**fields, "decision": decision})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st-1"] and expected in query
    if expected == "error":
        assert query["error"] == ["access_denied"]


def test_a_post_without_a_decision_is_refused(sim: tuple[Client, SimulatorState]) -> None:
    client, _ = sim
    assert client.post("/oauth/authorize", data=PARAMS).status_code == 400


def test_with_the_screen_off_authorize_approves_at_once(sim: tuple[Client, SimulatorState]) -> None:
    client, _ = sim
    assert client.post("/_sim/oauth", json={"consent_screen": False}).json()["consent_screen"] is False
    answer = client.get("/oauth/authorize", params=PARAMS)
    assert answer.status_code == 302 and "code" in parse_qs(urlsplit(answer.headers["location"]).query)
