"""A district admin and an operator walk the pages in headless Chromium, against the simulator,
gateway and worker started as processes. The tests run in order on one stack (each step starts
where the previous one left the district), as one person's afternoon would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dramatiq
import pytest
from browser_support import (
    click_through,
    find,
    save_screenshot,
    session_client,
    sign_in,
    state,
    text_of,
    wait_for,
)
from e2e.conftest import Stack
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from storage import failed_messages
from storage.runs import now
from storage.tables import failed_messages as failed_table
from storage.tables import staff_users, sync_runs

pytestmark = pytest.mark.e2e

TENANT_A, TENANT_B = "tenant-a", "tenant-b"
SLOW_MS = 300  # simulator latency while a test watches a sync run


def district(stack: Stack, index: int) -> str:
    return stack.sim.districts[index].id


def runs_of(stack: Stack, district_id: str) -> list[Any]:
    with stack.engine.connect() as conn:
        query = (
            select(sync_runs).where(sync_runs.c.district_id == district_id).order_by(sync_runs.c.queued_at)
        )
        return [r._mapping for r in conn.execute(query)]


def approve_on_clever(driver: webdriver.Chrome, stack: Stack, shots: Path | None = None) -> None:
    """On the simulator's consent page: check it is Clever's, then Approve."""
    wait_for(lambda: driver.current_url.startswith(stack.sim.base_url), "Clever's consent page")
    assert "read:sections" in text_of(driver, "#scopes")
    if shots is not None:
        save_screenshot(driver, shots, "clever-consent")
    find(driver, "#approve").click()
    wait_for(lambda: "/connect/" in driver.current_url, "the connect progress page")


def open_page(driver: webdriver.Chrome, stack: Stack, path: str = "/integrations/clever") -> None:
    driver.get(f"{stack.gateway_url}{path}")


def test_connect_shows_the_sync_progressing_then_its_counts(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    assert state(browser) == "not_connected"
    assert "No student data" in browser.page_source
    save_screenshot(browser, screenshots, "integrations-not-connected")

    stack.sim.set_faults(latency_ms=SLOW_MS)
    click_through(browser, "#connect")
    approve_on_clever(browser, stack, screenshots)
    open_page(browser, stack)
    wait_for(lambda: state(browser) == "syncing", "the first sync to show", refresh=browser)
    assert "Sync in progress" in text_of(browser, "#live")
    save_screenshot(browser, screenshots, "integrations-syncing")

    stack.sim.clear_faults()
    # No reload from the test: the page's script follows the run and reloads when it ends.
    wait_for(lambda: text_of(browser, "#last-status") == "succeeded", "the sync's result")
    assert state(browser) == "active"
    assert int(text_of(browser, "#last-staff-created")) > 0
    assert int(text_of(browser, "#last-tenant-created")) >= 2
    assert "02:30" in text_of(browser, "#next-reconcile")
    save_screenshot(browser, screenshots, "integrations-connected")


def test_sync_now_shows_the_running_sync_instead_of_starting_another(
    stack: Stack, browser: webdriver.Chrome
) -> None:
    sign_in(browser, stack, TENANT_A)
    before = len(runs_of(stack, district(stack, 0)))
    stack.sim.set_faults(latency_ms=SLOW_MS)
    click_through(browser, "#sync-now")
    assert "A sync has started" in text_of(browser, "#notice")
    assert state(browser) == "syncing"
    click_through(browser, "#sync-now")
    assert "already running" in text_of(browser, "#notice")
    assert len(runs_of(stack, district(stack, 0))) == before + 1
    stack.sim.clear_faults()
    wait_for(lambda: state(browser) == "active", "the sync to end", refresh=browser)


def test_a_role_override_sticks_after_a_sync(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    person = stack.sim.snapshot(district(stack, 0))["users_by_role"]["district_admin"][0]["id"]
    open_page(browser, stack, "/integrations/clever/staff")
    row = f"#staff-{person}"
    assert "DISTRICT_ADMIN" in text_of(browser, f"{row} .role")
    Select(find(browser, f"#role-{person}")).select_by_value("RESTRICTED_VIEWER")
    click_through(browser, f"{row} button")
    assert "role is saved" in text_of(browser, "#notice")
    assert text_of(browser, f"{row} .role") == "RESTRICTED_VIEWER override"
    save_screenshot(browser, screenshots, "integrations-staff")

    open_page(browser, stack)
    before = len(runs_of(stack, district(stack, 0)))
    click_through(browser, "#sync-now")
    wait_for(lambda: len(runs_of(stack, district(stack, 0))) > before, "the sync to be queued")
    wait_for(lambda: state(browser) == "active", "the sync to end", refresh=browser)
    open_page(browser, stack, "/integrations/clever/staff")
    assert text_of(browser, f"{row} .role") == "RESTRICTED_VIEWER override"


def test_a_mass_removal_is_held_then_approved(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    district_id = district(stack, 0)
    teachers = stack.sim.snapshot(district_id)["users_by_role"]["teacher"]
    removed = stack.sim.remove_users(district_id, role="teacher", count=max(len(teachers) // 2, 1))
    click_through(browser, "#sync-now")
    held = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".held"), "the held run", refresh=browser)
    assert "Staff: " in held[0].text
    save_screenshot(browser, screenshots, "integrations-held")
    click_through(browser, held[0].find_element(By.CSS_SELECTOR, "button.danger"))
    assert "Approved" in text_of(browser, "#notice")
    assert not browser.find_elements(By.CSS_SELECTOR, ".held")
    with stack.engine.connect() as conn:
        query = select(staff_users.c.active).where(staff_users.c.clever_id.in_(removed))
        assert {active for (active,) in conn.execute(query)} == {False}


def test_disconnect_keeps_the_data_and_reconnect_resumes(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    click_through(browser, "#disconnect")
    assert "Your data stays" in browser.page_source
    save_screenshot(browser, screenshots, "integrations-confirm-disconnect")
    click_through(browser, "#confirm-disconnect")
    assert state(browser) == "disconnected"
    assert "Your synced data stays" in text_of(browser, "#notice")
    open_page(browser, stack, "/integrations/clever/staff")
    assert browser.find_elements(By.CSS_SELECTOR, "#staff tbody tr[id^='staff-']")

    open_page(browser, stack)
    before = len(runs_of(stack, district(stack, 0)))
    click_through(browser, "#reconnect")
    approve_on_clever(browser, stack)
    open_page(browser, stack)
    wait_for(
        lambda: len(runs_of(stack, district(stack, 0))) > before and state(browser) == "active",
        "the reconnect's sync",
        refresh=browser,
    )
    assert runs_of(stack, district(stack, 0))[-1]["status"] == "succeeded"


def test_another_tenants_admin_cannot_reach_the_first_tenants_district(
    stack: Stack, browser: webdriver.Chrome
) -> None:
    sign_in(browser, stack, TENANT_A)
    name_a = text_of(browser, "#district-name")
    run_a = runs_of(stack, district(stack, 0))[-1]["id"]
    person_a = stack.sim.snapshot(district(stack, 0))["users_by_role"]["district_admin"][0]["id"]

    sign_in(browser, stack, TENANT_B)
    assert state(browser) == "not_connected" and name_a not in browser.page_source
    open_page(browser, stack, "/integrations/clever/staff")
    assert text_of(browser, "h1") == "Not found"

    # B connects their own district (the simulator's second one) and sees only it.
    admin_b = stack.sim.snapshot(district(stack, 1))["users_by_role"]["district_admin"][0]["id"]
    stack.sim.set_next_login(admin_b, district(stack, 1))
    open_page(browser, stack)
    click_through(browser, "#connect")
    approve_on_clever(browser, stack)
    open_page(browser, stack)
    wait_for(lambda: text_of(browser, "#last-status") == "succeeded", "B's first sync", refresh=browser)
    assert name_a not in browser.page_source
    open_page(browser, stack, "/integrations/clever/staff")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#staff-{person_a}")

    # Even with B's own session and CSRF token, A's run and staff are simply not found.
    token = str(find(browser, "input[name='csrf_token']").get_attribute("value"))
    with session_client(browser, stack) as client:
        form = {"csrf_token": token}
        assert client.post(f"/integrations/clever/runs/{run_a}/approve", data=form).status_code == 404
        override = client.post(
            f"/integrations/clever/staff/{person_a}/role", data={**form, "role": "SCHOOL_ADMIN"}
        )
        assert override.status_code == 404
    with stack.engine.connect() as conn:
        query = select(staff_users.c.override_role).where(staff_users.c.clever_id == person_a)
        assert conn.execute(query).scalar() == "RESTRICTED_VIEWER"  # A's own override, untouched


def test_the_operator_console_lists_both_districts_and_replays_a_failed_message(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    district_id = district(stack, 0)
    message = dramatiq.Message(
        queue_name=f"{stack.env['QUEUE_PREFIX']}events",
        actor_name="poll_events",
        args=(),
        kwargs={"district_id": district_id},
        options={},
    )
    # What the worker records when a message gives up (see messaging/failure_record.py).
    with stack.engine.begin() as conn:
        failed_id = failed_messages.record(
            conn,
            failed_messages.Failure(
                message_id=message.message_id,
                queue="events",
                actor="poll_events",
                district_id=district_id,
                idempotency_key=None,
                cause="ConnectError: the Clever API did not answer",
                attempts=5,
                first_failed_at=now(),
                last_failed_at=now(),
                message=message.asdict(),
            ),
        )

    stack.sim.clear_requests()
    sign_in(browser, stack, None, role="operator")
    assert find(browser, f"#connection-{district(stack, 0)}") and find(
        browser, f"#connection-{district(stack, 1)}"
    )
    assert "ConnectError" in text_of(browser, f"#failed-{failed_id}")
    save_screenshot(browser, screenshots, "ops-console")
    click_through(browser, f"#replay-{failed_id}")
    assert "sent to its queue again" in text_of(browser, "#notice")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#failed-{failed_id}")
    with stack.engine.connect() as conn:
        status = conn.execute(select(failed_table.c.status).where(failed_table.c.id == failed_id)).scalar()
    assert status == "replayed"
    # The worker took the replayed message: the poll reached Clever's Events API.
    wait_for(
        lambda: any(r["path"] == "/v3.0/events" for r in stack.sim.requests()),
        "the replayed poll to reach the simulator",
    )


def test_delete_needs_the_name_and_ends_with_a_receipt(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    name = text_of(browser, "#district-name")
    click_through(browser, "#delete")
    save_screenshot(browser, screenshots, "integrations-confirm-delete")
    find(browser, "#confirm-name").send_keys("not the name")
    click_through(browser, "#confirm-delete")
    assert "Please check what you entered" in text_of(browser, "h1")
    assert name in text_of(browser, "#reason")
    save_screenshot(browser, screenshots, "error-page")

    open_page(browser, stack, "/integrations/clever/delete")
    find(browser, "#confirm-name").send_keys(name)
    click_through(browser, "#confirm-delete")
    assert "Deleting all Clever data" in text_of(browser, "#notice")
    wait_for(lambda: state(browser) == "not_connected", "the purge", refresh=browser)
    receipt = text_of(browser, ".receipt")
    assert district(stack, 0) in receipt and "staff" in receipt
    save_screenshot(browser, screenshots, "integrations-deleted-receipt")
