from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update
from test_gateway_support import DISTRICT, Harness

from clever_client.oauth import SCOPES
from gateway.identity import IdentityKeyring, issue_assertion
from gateway.oauth_routes import STATE_PURPOSE, session_digest
from gateway.oauth_state import STATE_TTL_SECONDS, InvalidState, issue_state, verify_state
from gateway.sessions import COOKIE_NAME, decode_session, session_key
from storage import runs
from storage.tables import oauth_states

KEY = b"k" * 32
IDENTITY_KEYS = ("k1:identity-secret-0123456789abcdef",)
TENANT, OTHER_TENANT = "venue-tenant-a", "venue-tenant-b"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    # https base URL: the session cookie is Secure and the test client must send it back.
    with Harness.open(tmp_path, identity_keys=IDENTITY_KEYS) as harness:
        harness.client.base_url = "https://testserver"  # type: ignore[assignment]
        yield harness


def sign_in(h: Harness, tenant: str | None = TENANT, role: str = "district_admin", sub: str = "ada") -> str:
    """The sign-in handoff, as VenueOS sends a person; returns the session cookie it set."""
    ring = IdentityKeyring.from_settings(h.rt.settings)
    assertion = issue_assertion(ring, sub=sub, tenant=tenant, role=role)
    h.client.cookies.clear()
    response = h.client.get("/session", params={"assertion": assertion})
    assert response.status_code == 200, response.text
    return str(h.client.cookies[COOKIE_NAME])


def use(h: Harness, cookie: str) -> None:
    h.client.cookies.clear()
    h.client.cookies.set(COOKIE_NAME, cookie)


def start(h: Harness, **params: str) -> str:
    """/oauth/clever/start as the signed-in admin; returns the state sent to Clever."""
    response = h.client.get("/oauth/clever/start", params=params)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


def callback(h: Harness, state: str, code: str | None = "code-123", **params: str) -> Any:
    query = {"state": state, **({"code": code} if code is not None else {}), **params}
    return h.client.get("/oauth/clever/callback", params=query)


def attempts(h: Harness) -> list[Any]:
    with h.rt.engine.connect() as conn:
        return list(conn.execute(select(oauth_states)))


def connected(h: Harness, nonce: str, **values: Any) -> None:
    """What the connect actor writes once the district is stored and its first run queued."""
    with h.rt.engine.begin() as conn:
        conn.execute(update(oauth_states).where(oauth_states.c.nonce == nonce).values(**values))


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


def test_state_verifies_only_with_the_binding_it_was_issued_for() -> None:
    state = issue_state(KEY, now=1_000, binding="|session-a|tenant-a")
    assert verify_state(KEY, state, now=1_000, binding="|session-a|tenant-a")
    for other in ("", "|session-b|tenant-a", "|session-a|tenant-b"):
        with pytest.raises(InvalidState, match="another session"):
            verify_state(KEY, state, now=1_000, binding=other)


@pytest.mark.parametrize("state", ["", "abc", "a.b.c.d", "short.123.sig", "x" * 20 + ".12a." + "0" * 64])
def test_malformed_state(state: str) -> None:
    with pytest.raises(InvalidState, match=r"missing|malformed"):
        verify_state(KEY, state, now=1_000)


# --- start ----------------------------------------------------------------------------------


def test_start_needs_a_signed_in_district_admin(h: Harness) -> None:
    anonymous = h.client.get("/oauth/clever/start")
    assert anonymous.status_code == 401 and "sign in" in anonymous.text
    sign_in(h, tenant=None, role="operator")
    operator = h.client.get("/oauth/clever/start")
    assert operator.status_code == 403
    assert "location" not in anonymous.headers and "location" not in operator.headers


def test_start_redirects_to_clever_with_least_scopes_and_a_state_bound_to_the_session(h: Harness) -> None:
    cookie = sign_in(h)
    response = h.client.get("/oauth/clever/start", params={"district_id": DISTRICT})
    assert response.status_code == 302
    url = urlsplit(response.headers["location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "clever.example.test", "/oauth/authorize")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "client-abc"
    assert query["redirect_uri"] == "https://sync.example.test/oauth/clever/callback"
    assert query["district_id"] == DISTRICT
    assert query["scope"].split() == list(SCOPES) and "student" not in query["scope"]
    session = decode_session(session_key(h.rt), cookie)
    assert session is not None
    binding = f"|{session_digest(session.id)}|{TENANT}"
    verify_state(h.rt.keyring.signing_key(STATE_PURPOSE), query["state"], binding=binding)
    with pytest.raises(InvalidState):
        verify_state(h.rt.keyring.signing_key(STATE_PURPOSE), query["state"])


def test_start_rejects_a_strange_district_id(h: Harness) -> None:
    sign_in(h)
    response = h.client.get("/oauth/clever/start", params={"district_id": "<script>"})
    assert response.status_code in (400, 422)  # the shared query check may answer first
    assert "<script>" not in response.text


# --- callback -------------------------------------------------------------------------------


def test_callback_publishes_the_code_encrypted_with_the_tenant(h: Harness) -> None:
    cookie = sign_in(h)
    state = start(h)
    nonce = state.split(".")[0]
    response = callback(h, state, "code-123")
    assert response.status_code == 303
    assert response.headers["location"] == f"https://sync.example.test/connect/{nonce}"
    [message] = h.messages("connect")
    assert message.actor_name == "connect_district"
    kwargs = dict(message.kwargs)
    assert h.rt.keyring.decrypt(kwargs.pop("code_ciphertext")) == "code-123"
    assert kwargs == {
        "nonce": nonce,
        "redirect_uri": "https://sync.example.test/oauth/clever/callback",
        "tenant_id": TENANT,
        "actor": f"district_admin:ada@{TENANT}",
    }
    assert b"code-123" not in message.encode()
    session = decode_session(session_key(h.rt), cookie)
    assert session is not None
    [row] = attempts(h)
    assert (row.nonce, row.tenant_id, row.session_id) == (nonce, TENANT, session_digest(session.id))
    assert session.id not in str(tuple(row))


def test_replayed_state_is_refused_and_publishes_nothing_more(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    callback(h, state, "c1")
    again = callback(h, state, "c2")
    assert again.status_code == 400
    assert "already used" in again.text
    assert len(h.messages("connect")) == 1


def test_a_state_used_from_another_session_is_refused(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    sign_in(h, sub="ada")  # the same person, but a new browser session
    response = callback(h, state)
    assert response.status_code == 400 and "another session" in response.text
    assert h.all_messages() == [] and attempts(h) == []


def test_a_state_of_another_tenant_is_refused(h: Harness) -> None:
    sign_in(h, tenant=TENANT)
    state = start(h)
    sign_in(h, tenant=OTHER_TENANT)
    assert callback(h, state).status_code == 400
    assert h.all_messages() == [] and attempts(h) == []


def test_a_callback_without_a_session_publishes_nothing(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    h.client.cookies.clear()
    response = callback(h, state)
    assert response.status_code == 401 and "sign in" in response.text
    assert h.all_messages() == [] and attempts(h) == []


def test_a_denied_state_is_used_up_and_cannot_be_reused(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    denied = callback(h, state, None, error="access_denied")
    assert denied.status_code == 400 and "declined" in denied.text
    [row] = attempts(h)
    assert row.error and "declined" in row.error
    reused = callback(h, state, "code-after-denial")
    assert reused.status_code == 400 and "already used" in reused.text
    assert h.all_messages() == []


def test_expired_state_is_refused(h: Harness) -> None:
    cookie = sign_in(h)
    session = decode_session(session_key(h.rt), cookie)
    assert session is not None
    old = issue_state(
        h.rt.keyring.signing_key(STATE_PURPOSE),
        now=time.time() - STATE_TTL_SECONDS - 5,
        binding=f"|{session_digest(session.id)}|{TENANT}",
    )
    response = callback(h, old)
    assert response.status_code == 400
    assert "expired" in response.text
    assert h.all_messages() == [] and attempts(h) == []


def test_tampered_state_is_refused(h: Harness) -> None:
    sign_in(h)
    nonce, expires, signature = start(h).split(".")
    response = callback(h, f"{nonce}.{int(expires) + 3600}.{signature}")
    assert response.status_code == 400
    assert "bad signature" in response.text
    assert h.all_messages() == []


def test_missing_code_uses_the_state_up_and_publishes_nothing(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    response = callback(h, state, None)
    assert response.status_code == 400 and "no authorization code" in response.text
    assert h.all_messages() == [] and len(attempts(h)) == 1


def test_error_pages_escape_what_clever_sent(h: Harness) -> None:
    sign_in(h)
    response = callback(h, start(h), None, error="<script>alert(1)</script>")
    assert response.status_code == 400
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;" in response.text


def test_broker_down_answers_503_and_frees_the_nonce_for_a_retry(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    original = h.broker.enqueue
    h.break_broker()
    response = callback(h, state, "c")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert attempts(h) == []
    h.broker.enqueue = original  # type: ignore[method-assign]
    retried = callback(h, state, "c")
    assert retried.status_code == 303
    assert len(h.messages("connect")) == 1


# --- progress -------------------------------------------------------------------------------


def test_progress_follows_the_connect_run_with_counters_per_type(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    nonce = state.split(".")[0]
    callback(h, state, "c")
    page = h.client.get(f"/connect/{nonce}")
    assert page.status_code == 200 and "/status" in page.text and "Waiting for Clever" in page.text
    assert h.client.get(f"/connect/{nonce}/status").json() == {
        "state": "waiting",
        "error": None,
        "district": None,
        "run": None,
    }
    h.add_district()
    # Stored under the old name `stale`, shown as documented (`outdated`), as the API does.
    h.add_run(
        "run-connect",
        status="running",
        counters={"staff": {"created": 3, "stale": 2}, "terms": {"created": 1}},
    )
    h.add_run("run-later", status="succeeded", minutes=5, counters={"staff": {"unchanged": 3}})
    connected(h, nonce, district_id=DISTRICT, run_id="run-connect")
    body = h.client.get(f"/connect/{nonce}/status").json()
    assert body["state"] == "connected"
    assert body["district"] == {"id": DISTRICT, "name": "District 7a", "status": "active"}
    assert body["run"] == {
        "id": "run-connect",
        "status": "running",
        "counters": {"staff": {"created": 3, "outdated": 2}, "terms": {"created": 1}},
        "error": None,
    }
    page = h.client.get(f"/connect/{nonce}")
    assert "staff: created 3, outdated 2" in page.text and "terms: created 1" in page.text
    assert "stale" not in page.text


def test_a_failed_connection_says_so_and_offers_starting_again(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    nonce = state.split(".")[0]
    callback(h, state, "c")
    connected(h, nonce, error="This Clever district is already connected to another VenueOS account.")
    body = h.client.get(f"/connect/{nonce}/status").json()
    assert body["state"] == "failed" and "another VenueOS account" in body["error"]
    page = h.client.get(f"/connect/{nonce}")
    assert '<h1 id="title">Connecting your district' not in page.text
    assert "Could not connect to Clever" in page.text and "another VenueOS account" in page.text
    assert '<p id="again"><a href="/oauth/clever/start">Start again</a>' in page.text


def test_progress_needs_the_session_that_started_it(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    nonce = state.split(".")[0]
    callback(h, state, "c")
    h.client.cookies.clear()
    assert h.client.get(f"/connect/{nonce}/status").status_code == 401
    assert h.client.get(f"/connect/{nonce}").status_code == 401
    sign_in(h)  # same tenant, another session
    other = h.client.get(f"/connect/{nonce}/status")
    assert other.status_code == 404
    assert other.json() == {"error": "connection attempt not found"}
    assert h.client.get(f"/connect/{nonce}").status_code == 404


def test_progress_expires_an_hour_after_the_callback(h: Harness) -> None:
    sign_in(h)
    state = start(h)
    nonce = state.split(".")[0]
    callback(h, state, "c")
    assert h.client.get(f"/connect/{nonce}/status").status_code == 200
    connected(h, nonce, used_at=runs.now() - timedelta(hours=1, seconds=5))
    assert h.client.get(f"/connect/{nonce}/status").status_code == 410
    assert h.client.get(f"/connect/{nonce}").status_code == 410


def test_status_of_an_unknown_nonce_is_404(h: Harness) -> None:
    sign_in(h)
    response = h.client.get("/connect/unknown-nonce-0000000/status")
    assert response.status_code == 404
    assert response.json() == {"error": "connection attempt not found"}
    assert h.client.get("/connect/unknown-nonce-0000000").status_code == 404
