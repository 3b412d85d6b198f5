from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from test_gateway_support import ADMIN_TOKEN, DISTRICT, SECRET, Harness

from gateway.oauth_routes import STATE_PURPOSE
from gateway.oauth_state import issue_state


def test_logs_name_routes_and_outcomes_but_never_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    email = "principal.secret@example.test"
    with Harness.open(tmp_path) as h:
        h.add_district()
        h.add_staff("u1", email=email)
        state = issue_state(h.rt.keyring.signing_key(STATE_PURPOSE))
        event = {
            "id": "6a0000000000000000000001",
            "type": "users.updated",
            "created": None,
            "data": {"object": {"id": "u1", "email": email, "roles": {"teacher": {}}}},
        }
        with capture_logs() as logs:
            h.client.get("/oauth/clever/callback", params={"code": "the-oauth-code", "state": state})
            h.client.get(f"/v1/districts/{DISTRICT}/staff", headers=h.admin())
            h.client.patch("/v1/staff/u1", json={"role": "SCHOOL_ADMIN"}, headers=h.admin())
            h.post_webhook(event)
            h.post_webhook(event, secret="wrong")
    text = json.dumps(logs, default=str)
    for secret in (ADMIN_TOKEN, SECRET, email, "the-oauth-code", state, state.split(".")[0]):
        assert secret not in text
    requests = [(e["route"], e["status"]) for e in logs if e["event"] == "http.request"]
    assert requests == [
        ("/oauth/clever/callback", 303),
        ("/v1/districts/{district_id}/staff", 200),
        ("/v1/staff/{clever_id}", 200),
        ("/webhooks/clever", 202),
        ("/webhooks/clever", 401),
    ]
    assert {"webhook.rejected", "admin.role_override"} <= {e["event"] for e in logs}
    accepted = next(e for e in logs if e["event"] == "http.request" and e["status"] == 202)
    assert (accepted["accepted"], accepted["dropped"]) == (1, 0), "the webhook's counts ride on its line"
