"""The integrations page and the operator console on a gateway with SQLite and a stub broker:
who reaches what, CSRF on every form, refusals that change nothing, and what the pages say.
The browser suite (tests/browser) walks the same pages against real processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_gateway_support import DISTRICT, OTHER_DISTRICT, Harness

from gateway.identity import IdentityKeyring, issue_assertion
from gateway.integrations_actions import parse_period_lines
from gateway.page_render import CSP
from gateway.sessions import COOKIE_NAME, decode_session, session_key
from storage.tables import audit_log, districts, sync_runs

IDENTITY_KEYS = ("k1:identity-secret-0123456789abcdef",)
TENANT, OTHER_TENANT = "venue-tenant-a", "venue-tenant-b"
STAFF = "5b2ad81a709e300001e2cd01"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path, identity_keys=IDENTITY_KEYS) as harness:
        harness.client.base_url = "https://testserver"  # type: ignore[assignment]
        yield harness


def sign_in(h: Harness, tenant: str | None = TENANT, role: str = "district_admin") -> None:
    ring = IdentityKeyring.from_settings(h.rt.settings)
    h.client.cookies.clear()
    response = h.client.get(
        "/session", params={"assertion": issue_assertion(ring, sub="ada", tenant=tenant, role=role)}
    )
    assert response.status_code == 200 and COOKIE_NAME in h.client.cookies


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def connected(h: Harness) -> None:
    h.add_district(DISTRICT, tenant_id=TENANT, timezone="America/Chicago")
    h.add_district(OTHER_DISTRICT, tenant_id=OTHER_TENANT)
    h.add_staff(STAFF, titles=["Custodian"], synced_role="RESTRICTED_VIEWER", role_reason="no rule matched")


def audit_count(h: Harness) -> int:
    with h.rt.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_not_connected_page_says_what_is_synced_and_offers_connect(h: Harness) -> None:
    sign_in(h)
    page = h.client.get("/integrations/clever")
    assert page.status_code == 200
    assert 'data-state="not_connected"' in page.text
    assert 'href="/oauth/clever/start"' in page.text
    assert "No student data" in page.text and "read:sections" in page.text
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline for the CSP to refuse


def test_connected_page_shows_state_next_reconcile_in_the_district_zone_and_last_sync(h: Harness) -> None:
    connected(h)
    counters = {"staff": {"created": 7, "updated": 1}}
    h.add_run("r1", status="succeeded", counters=counters, error=None)
    sign_in(h)
    page = h.client.get("/integrations/clever")
    assert 'data-state="active"' in page.text
    assert "District 7a" in page.text and "District 7b" not in page.text
    assert re.search(r'id="next-reconcile">\d{4}-\d\d-\d\d 02:30 C[DS]T<', page.text)
    assert 'id="last-staff-created">7<' in page.text


def test_a_session_is_needed_and_each_role_has_its_own_pages(h: Harness) -> None:
    page = h.client.get("/integrations/clever")
    assert page.status_code == 401 and "sign in" in page.text.lower()
    sign_in(h, tenant=None, role="operator")
    assert h.client.get("/integrations/clever").status_code == 403
    assert h.client.get("/ops").status_code == 200
    sign_in(h)
    refused = h.client.get("/ops")
    assert refused.status_code == 403 and "for an operator" in refused.text


def test_another_tenants_admin_sees_only_their_own_connection(h: Harness) -> None:
    connected(h)
    sign_in(h, tenant="venue-tenant-c")
    page = h.client.get("/integrations/clever")
    assert 'data-state="not_connected"' in page.text and DISTRICT not in page.text
    assert h.client.get("/integrations/clever/staff").status_code == 404
    session = decode_session(session_key(h.rt), h.client.cookies[COOKIE_NAME])
    assert session is not None
    form = {"csrf_token": session.csrf_token, "role": "SCHOOL_ADMIN"}
    refused = h.client.post(f"/integrations/clever/staff/{STAFF}/role", data=form, headers=FORM)
    assert refused.status_code == 404
    assert h.staff_row(STAFF).override_role is None


def test_forms_without_the_sessions_csrf_token_change_nothing(h: Harness) -> None:
    connected(h)
    sign_in(h)
    before = audit_count(h)
    for path in (
        "/integrations/clever/sync",
        "/integrations/clever/disconnect",
        f"/integrations/clever/staff/{STAFF}/role",
    ):
        for token in (None, "forged"):
            data = {"role": "SCHOOL_ADMIN", **({"csrf_token": token} if token else {})}
            response = h.client.post(path, data=data, headers=FORM)
            assert response.status_code == 403, path
            assert "CSRF" in response.text and "reload the page" in response.text.lower()
    assert audit_count(h) == before
    assert h.staff_row(STAFF).override_role is None
    assert h.messages("ingest") == []
    with h.rt.engine.connect() as conn:
        assert conn.execute(select(districts.c.status).where(districts.c.id == DISTRICT)).scalar() == "active"


def test_role_override_from_the_staff_page_is_audited_and_shown(h: Harness) -> None:
    connected(h)
    sign_in(h)
    staff = h.client.get("/integrations/clever/staff")
    assert "Custodian" in staff.text and "no rule matched" in staff.text
    saved = h.client.post(
        f"/integrations/clever/staff/{STAFF}/role",
        data={"csrf_token": csrf(staff.text), "role": "SCHOOL_ADMIN"},
        headers=FORM,
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=role-saved")
    row = h.staff_row(STAFF)
    assert row.override_role == "SCHOOL_ADMIN" and row.synced_role == "RESTRICTED_VIEWER"
    assert row.override_set_by == f"district_admin:ada@{TENANT}"
    bad = h.client.post(
        f"/integrations/clever/staff/{STAFF}/role",
        data={"csrf_token": csrf(staff.text), "role": "KING"},
        headers=FORM,
    )
    assert bad.status_code == 422 and h.staff_row(STAFF).override_role == "SCHOOL_ADMIN"


def test_sync_now_starts_one_run_and_then_shows_the_running_one(h: Harness) -> None:
    connected(h)
    sign_in(h)
    token = csrf(h.client.get("/integrations/clever").text)
    first = h.client.post("/integrations/clever/sync", data={"csrf_token": token}, headers=FORM)
    second = h.client.post("/integrations/clever/sync", data={"csrf_token": token}, headers=FORM)
    assert first.headers["location"].endswith("done=sync-started")
    assert second.headers["location"].endswith("done=sync-running")
    with h.rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sync_runs)).scalar_one() == 1
    page = h.client.get("/integrations/clever?done=sync-running")
    assert 'data-state="syncing"' in page.text and 'id="live"' in page.text
    assert "already running" in page.text


def test_delete_needs_the_district_name_typed(h: Harness) -> None:
    connected(h)
    sign_in(h)
    token = csrf(h.client.get("/integrations/clever/delete").text)
    wrong = h.client.post(
        "/integrations/clever/delete", data={"csrf_token": token, "confirm_name": "x"}, headers=FORM
    )
    assert wrong.status_code == 422 and "District 7a" in wrong.text
    assert h.messages("reconcile") == []
    right = h.client.post(
        "/integrations/clever/delete", data={"csrf_token": token, "confirm_name": "District 7a"}, headers=FORM
    )
    assert right.status_code == 303
    assert [m.actor_name for m in h.messages("reconcile")] == ["purge_district"]


def test_the_bell_schedule_editor_reads_lines_and_refuses_bad_ones(h: Harness) -> None:
    periods = parse_period_lines("Period 1, 08:00, 08:50\n\nLunch, break, 11:30, 12:00\n")
    assert [(p.label, p.start_time, p.end_time) for p in periods] == [
        ("Period 1", "08:00", "08:50"),
        ("Lunch, break", "11:30", "12:00"),
    ]
    with pytest.raises(Exception, match="line 1"):
        parse_period_lines("Period 1 08:00 08:50")
    with pytest.raises(Exception, match="start before it ends"):
        parse_period_lines("Period 1, 09:00, 08:50")


def test_operator_console_lists_every_connection_and_queue(h: Harness) -> None:
    connected(h)
    sign_in(h, tenant=None, role="operator")
    page = h.client.get("/ops")
    assert DISTRICT in page.text and OTHER_DISTRICT in page.text
    assert re.search(r"<th scope=\"row\">ingest</th><td>(\d+|-)</td>", page.text)
