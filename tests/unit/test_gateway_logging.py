from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from structlog.testing import capture_logs
from test_gateway_support import ADMIN_TOKEN, DISTRICT, SECRET, Harness

from gateway.identity import IdentityKeyring, issue_assertion
from gateway.sessions import COOKIE_NAME, decode_session, session_key


def test_logs_name_routes_and_outcomes_but_never_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    email = "principal.secret@example.test"
    with Harness.open(tmp_path, identity_keys=("k1:identity-secret-0123456789abcdef",)) as h:
        h.client.base_url = "https://testserver"  # type: ignore[assignment]  # the cookie is Secure
        assertion = issue_assertion(
            IdentityKeyring.from_settings(h.rt.settings),
            sub="ada.person",
            tenant="t-a",
            role="district_admin",
        )
        h.add_district()
        h.add_staff("5b2ad81a709e300001e2c0a1", email=email)
        event = {
            "id": "6a0000000000000000000001",
            "type": "users.updated",
            "created": None,
            "data": {"object": {"id": "5b2ad81a709e300001e2c0a1", "email": email, "roles": {"teacher": {}}}},
        }
        with capture_logs() as logs:
            h.client.get("/session", params={"assertion": assertion})
            start = h.client.get("/oauth/clever/start")
            state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
            h.client.get("/oauth/clever/callback", params={"code": "the-oauth-code", "state": state})
            h.client.get(f"/connect/{state.split('.')[0]}/status")
            h.client.get(f"/v1/districts/{DISTRICT}/staff", headers=h.admin())
            h.client.patch(
                "/v1/staff/5b2ad81a709e300001e2c0a1", json={"role": "SCHOOL_ADMIN"}, headers=h.admin()
            )
            h.post_webhook(event)
            h.post_webhook(event, secret="wrong")
    cookie = str(h.client.cookies[COOKIE_NAME])
    session = decode_session(session_key(h.rt), cookie)
    assert session is not None
    text = json.dumps(logs, default=str)
    for secret in (
        ADMIN_TOKEN, SECRET, email, "the-oauth-code", state, state.split(".")[0],
        assertion, cookie, session.id, session.csrf_token, "ada.person",
    ):  # fmt: skip
        assert secret not in text
    requests = [(e["route"], e["status"]) for e in logs if e["event"] == "http.request"]
    assert requests == [
        ("/session", 200),
        ("/oauth/clever/start", 302),
        ("/oauth/clever/callback", 303),
        ("/connect/{nonce}/status", 200),
        ("/v1/districts/{district_id}/staff", 200),
        ("/v1/staff/{clever_id}", 200),
        ("/webhooks/clever", 202),
        ("/webhooks/clever", 401),
    ]
    assert {"webhook.rejected", "admin.role_override"} <= {e["event"] for e in logs}
    accepted = next(e for e in logs if e["event"] == "http.request" and e["status"] == 202)
    assert (accepted["accepted"], accepted["dropped"]) == (1, 0), "the webhook's counts ride on its line"
