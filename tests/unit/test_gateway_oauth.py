from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update
from test_gateway_support import DISTRICT, Harness

from gateway.oauth_routes import STATE_PURPOSE
from gateway.oauth_state import STATE_TTL_SECONDS, InvalidState, issue_state, verify_state
from storage.tables import oauth_states

KEY = b"k" * 32


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        yield harness


def state_for(h: Harness, now: float | None = None) -> str:
    return issue_state(h.rt.keyring.signing_key(STATE_PURPOSE), now=now)


def nonces(h: Harness) -> list[str]:
    with h.rt.engine.connect() as conn:
        return [row.nonce for row in conn.execute(select(oauth_states.c.nonce))]


# --- the state token ------------------------------------------------------------------------


def test_state_round_trip_carries_a_fresh_nonce() -> None:
    first, second = issue_state(KEY, now=1_000), issue_state(KEY, now=1_000)
    assert first != second
    verified = verify_state(KEY, first, now=1_000 + STATE_TTL_SECONDS)
    assert verified.nonce == first.split(".")[0]
    assert verified.expires_at == 1_000 + STATE_TTL_SECONDS


def test_state_expires_after_ten_minutes() -> None:
    state = issue_state(KEY, now=1_000)
    with pytest.raises(InvalidState, match="expired"):
        verify_state(KEY, state, now=1_000 + STATE_TTL_SECONDS + 1)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_state_tampering_is_a_bad_signature(part: int) -> None:
    pieces = issue_state(KEY, now=1_000).split(".")
    pieces[part] = {0: "A" * 32, 1: "999999999", 2: "0" * 64}[part]
    with pytest.raises(InvalidState, match="bad signature"):
        verify_state(KEY, ".".join(pieces), now=1_000)


def test_state_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidState, match="bad signature"):
        verify_state(b"other" * 8, issue_state(KEY, now=1_000), now=1_000)


@pytest.mark.parametrize("state", ["", "abc", "a.b.c.d", "short.123.sig", "x" * 20 + ".12a." + "0" * 64])
def test_malformed_state(state: str) -> None:
    with pytest.raises(InvalidState, match=r"missing|malformed"):
        verify_state(KEY, state, now=1_000)


# --- start ----------------------------------------------------------------------------------


def test_start_redirects_to_clever_with_a_verifiable_state(h: Harness) -> None:
    response = h.client.get("/oauth/clever/start", params={"district_id": DISTRICT})
    assert response.status_code == 302
    url = urlsplit(response.headers["location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "clever.example.test", "/oauth/authorize")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "client-abc"
    assert query["redirect_uri"] == "https://sync.example.test/oauth/clever/callback"
    assert query["district_id"] == DISTRICT
    verify_state(h.rt.keyring.signing_key(STATE_PURPOSE), query["state"])


def test_start_rejects_a_strange_district_id(h: Harness) -> None:
    response = h.client.get("/oauth/clever/start", params={"district_id": "<script>"})
    assert response.status_code == 400
    assert "<script>" not in response.text


# --- callback -------------------------------------------------------------------------------


def test_callback_publishes_the_code_once_and_redirects_to_progress(h: Harness) -> None:
    state = state_for(h)
    nonce = state.split(".")[0]
    response = h.client.get("/oauth/clever/callback", params={"code": "code-123", "state": state})
    assert response.status_code == 303
    assert response.headers["location"] == f"/connect/{nonce}"
    [message] = h.messages("connect")
    assert message.actor_name == "connect_district"
    assert message.kwargs == {
        "code": "code-123",
        "nonce": nonce,
        "redirect_uri": "https://sync.example.test/oauth/clever/callback",
    }
    assert nonces(h) == [nonce]


def test_replayed_state_is_refused_and_publishes_nothing_more(h: Harness) -> None:
    state = state_for(h)
    h.client.get("/oauth/clever/callback", params={"code": "c1", "state": state})
    again = h.client.get("/oauth/clever/callback", params={"code": "c2", "state": state})
    assert again.status_code == 400
    assert "already used" in again.text
    assert len(h.messages("connect")) == 1


def test_expired_state_is_refused(h: Harness) -> None:
    state = state_for(h, now=1_000.0)
    response = h.client.get("/oauth/clever/callback", params={"code": "c", "state": state})
    assert response.status_code == 400
    assert "expired" in response.text
    assert h.all_messages() == [] and nonces(h) == []


def test_tampered_state_is_refused(h: Harness) -> None:
    nonce, expires, signature = state_for(h).split(".")
    forged = f"{nonce}.{int(expires) + 3600}.{signature}"
    response = h.client.get("/oauth/clever/callback", params={"code": "c", "state": forged})
    assert response.status_code == 400
    assert "bad signature" in response.text
    assert h.all_messages() == []


def test_missing_code_is_refused(h: Harness) -> None:
    response = h.client.get("/oauth/clever/callback", params={"state": state_for(h)})
    assert response.status_code == 400
    assert h.all_messages() == []


def test_declined_authorization_publishes_nothing(h: Harness) -> None:
    response = h.client.get(
        "/oauth/clever/callback", params={"error": "access_denied", "state": state_for(h)}
    )
    assert response.status_code == 400
    assert "declined" in response.text
    assert h.all_messages() == [] and nonces(h) == []


def test_error_pages_escape_what_clever_sent(h: Harness) -> None:
    response = h.client.get("/oauth/clever/callback", params={"error": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;" in response.text


def test_broker_down_answers_503_and_frees_the_nonce_for_a_retry(h: Harness) -> None:
    state = state_for(h)
    original = h.broker.enqueue
    h.break_broker()
    response = h.client.get("/oauth/clever/callback", params={"code": "c", "state": state})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert nonces(h) == []
    h.broker.enqueue = original  # type: ignore[method-assign]
    retried = h.client.get("/oauth/clever/callback", params={"code": "c", "state": state})
    assert retried.status_code == 303
    assert len(h.messages("connect")) == 1


# --- progress -------------------------------------------------------------------------------


def test_progress_page_and_status_follow_the_connection(h: Harness) -> None:
    state = state_for(h)
    nonce = state.split(".")[0]
    h.client.get("/oauth/clever/callback", params={"code": "c", "state": state})
    page = h.client.get(f"/connect/{nonce}")
    assert page.status_code == 200 and "/status" in page.text
    assert h.client.get(f"/connect/{nonce}/status").json() == {
        "state": "waiting",
        "error": None,
        "district": None,
        "run": None,
    }
    # What the connect actor writes once the district is stored and its first run queued.
    h.add_district()
    h.add_run("run-1", status="running", counters={"staff": {"created": 3}})
    with h.rt.engine.begin() as conn:
        conn.execute(update(oauth_states).where(oauth_states.c.nonce == nonce).values(district_id=DISTRICT))
    body = h.client.get(f"/connect/{nonce}/status").json()
    assert body["state"] == "connected"
    assert body["district"] == {"id": DISTRICT, "name": "District 7a", "status": "active"}
    assert body["run"] == {"id": "run-1", "status": "running", "counters": {"staff": {"created": 3}}}


def test_status_reports_a_failed_connection(h: Harness) -> None:
    state = state_for(h)
    nonce = state.split(".")[0]
    h.client.get("/oauth/clever/callback", params={"code": "c", "state": state})
    with h.rt.engine.begin() as conn:
        conn.execute(update(oauth_states).where(oauth_states.c.nonce == nonce).values(error="no token"))
    body = h.client.get(f"/connect/{nonce}/status").json()
    assert (body["state"], body["error"]) == ("failed", "no token")


def test_status_of_an_unknown_nonce_is_404(h: Harness) -> None:
    response = h.client.get("/connect/unknown-nonce-0000000/status")
    assert response.status_code == 404
    assert response.json() == {"error": "connection attempt not found"}
    assert h.client.get("/connect/unknown-nonce-0000000").status_code == 404
