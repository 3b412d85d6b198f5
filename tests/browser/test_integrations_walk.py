"""A district admin and an operator walk the pages in headless Chromium, against the simulator,
gateway and worker started as processes. The tests run in order on one stack (each step starts
where the previous one left the district), as one person's afternoon would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dramatiq
import pika
import pytest
from accessibility import check_page
from browser_support import (
    approve_on_clever,
    click_through,
    find,
    open_page,
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

from storage.runs import now
from storage.tables import districts, staff_users, sync_runs
from storage.tables import failed_messages as failed_table

pytestmark = pytest.mark.e2e

TENANT_A, TENANT_B = "tenant-a", "tenant-b"
SLOW_MS = 300  # simulator latency while a test watches a sync run


def publish(stack: Stack, kind: str, actor: str, kwargs: dict[str, Any]) -> str:
    """Send a message to the deployment's queue with pika, as another service could."""
    message = dramatiq.Message(
        queue_name=f"{stack.env['QUEUE_PREFIX']}{kind}", actor_name=actor, args=(), kwargs=kwargs, options={}
    )
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["BROKER_URL"]))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange="",
            routing_key=message.queue_name,
            body=message.encode(),
            properties=pika.BasicProperties(delivery_mode=2),
            mandatory=True,
        )
    finally:
        connection.close()
    return message.message_id


def failed_row(stack: Stack, message_id: str) -> Any:
    with stack.engine.connect() as conn:
        query = select(failed_table).where(failed_table.c.message_id == message_id)
        return conn.execute(query).mappings().first()


def cursor_checked_at(stack: Stack, district_id: str) -> datetime:
    with stack.engine.connect() as conn:
        query = select(districts.c.events_cursor_at).where(districts.c.id == district_id)
        return conn.execute(query).scalar() or datetime.min.replace(tzinfo=UTC)


def district(stack: Stack, index: int) -> str:
    return stack.sim.districts[index].id


def runs_of(stack: Stack, district_id: str) -> list[Any]:
    with stack.engine.connect() as conn:
        query = (
            select(sync_runs).where(sync_runs.c.district_id == district_id).order_by(sync_runs.c.queued_at)
        )
        return [r._mapping for r in conn.execute(query)]


def test_connect_shows_the_sync_progressing_then_its_counts(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    assert state(browser) == "not_connected"
    assert "No student data" in browser.page_source
    check_page(browser)
    save_screenshot(browser, screenshots, "integrations-not-connected")

    stack.sim.set_faults(latency_ms=SLOW_MS)
    click_through(browser, "#connect")
    approve_on_clever(browser, stack, screenshots)
    open_page(browser, stack)
    wait_for(lambda: state(browser) == "syncing", "the first sync to show", refresh=browser)
    assert "Sync in progress" in text_of(browser, "#live")
    check_page(browser)
    save_screenshot(browser, screenshots, "integrations-syncing")

    stack.sim.clear_faults()
    # No reload from the test: the page's script follows the run and reloads when it ends.
    wait_for(lambda: text_of(browser, "#last-status") == "succeeded", "the sync's result")
    assert state(browser) == "active"
    assert int(text_of(browser, "#last-staff-created")) > 0
    assert int(text_of(browser, "#last-tenant-created")) >= 2
    assert "02:30" in text_of(browser, "#next-reconcile")
    check_page(browser)
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
    check_page(browser)
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
    check_page(browser)
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
    check_page(browser)
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
    check_page(browser)
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
    check_page(browser)

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


def test_the_operator_console_lists_both_districts_and_a_replay_after_the_fix_succeeds(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    district_id = district(stack, 0)
    # Clever answers every data request with 501 (a permanent error, so no retries): a poll sent
    # now, as the scheduler would send it, gives up at once and is recorded with its cause.
    stack.sim.set_faults(error_rate=1.0, error_statuses=[501])
    try:
        message_id = publish(stack, "events", "poll_events", {"district_id": district_id})
        failed_id = wait_for(lambda: failed_row(stack, message_id), "the poll to be recorded as failed")["id"]
    finally:
        stack.sim.clear_faults()  # the fix: Clever answers again

    sign_in(browser, stack, None, role="operator")
    check_page(browser)
    assert find(browser, f"#connection-{district(stack, 0)}") and find(
        browser, f"#connection-{district(stack, 1)}"
    )
    assert "501" in text_of(browser, f"#failed-{failed_id}")
    save_screenshot(browser, screenshots, "ops-console")

    replayed_at = now()
    click_through(browser, f"#replay-{failed_id}")
    assert "sent to its queue again" in text_of(browser, "#notice")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#failed-{failed_id}")
    assert text_of(browser, f"#handled-{failed_id} .status") == "replayed"
    assert "operator:e2e-admin" in text_of(browser, f"#handled-{failed_id}")
    # The worker took the replayed poll and it went through: the cursor's check time moved on.
    wait_for(lambda: cursor_checked_at(stack, district_id) >= replayed_at, "the replayed poll to succeed")
    open_page(browser, stack, "/ops")
    assert text_of(browser, f"#handled-{failed_id} .status") == "replayed"
    assert failed_row(stack, message_id)["status"] == "replayed"


def test_replaying_a_message_that_can_never_succeed_records_it_again(
    stack: Stack, browser: webdriver.Chrome
) -> None:
    # What another service could publish: a Clever event whose data is not an object.
    bad_event = {"id": "0123456789abcdef01234567", "type": "users.updated", "data": "not an object"}
    message_id = publish(stack, "events", "apply_event", {"event": bad_event, "source": "webhook"})
    row = wait_for(lambda: failed_row(stack, message_id), "the bad event to be recorded as failed")
    assert row["attempts"] == 1  # a permanent error is recorded at once, never retried

    sign_in(browser, stack, None, role="operator")
    assert "InvalidEvent" in text_of(browser, f"#failed-{row['id']}")
    click_through(browser, f"#replay-{row['id']}")
    assert "sent to its queue again" in text_of(browser, "#notice")
    # It fails again (the worker may be done before this page is), and the page says so: back in
    # the waiting list with its attempts added up, no longer shown as replayed.
    wait_for(
        lambda: text_of(browser, f"#failed-{row['id']} .attempts") == "2",
        "the replay to fail again",
        refresh=browser,
    )
    assert not browser.find_elements(By.CSS_SELECTOR, f"#handled-{row['id']}")


def test_delete_needs_the_name_and_ends_with_a_receipt(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path
) -> None:
    sign_in(browser, stack, TENANT_A)
    name = text_of(browser, "#district-name")
    click_through(browser, "#delete")
    check_page(browser)
    save_screenshot(browser, screenshots, "integrations-confirm-delete")
    find(browser, "#confirm-name").send_keys("not the name")
    click_through(browser, "#confirm-delete")
    assert "Please check what you entered" in text_of(browser, "h1")
    assert name in text_of(browser, "#reason")
    check_page(browser)
    save_screenshot(browser, screenshots, "error-page")

    open_page(browser, stack, "/integrations/clever/delete")
    find(browser, "#confirm-name").send_keys(name)
    click_through(browser, "#confirm-delete")
    assert "Deleting all Clever data" in text_of(browser, "#notice")
    wait_for(lambda: state(browser) == "not_connected", "the purge", refresh=browser)
    receipt = text_of(browser, ".receipt")
    assert district(stack, 0) in receipt and "staff" in receipt
    check_page(browser)
    save_screenshot(browser, screenshots, "integrations-deleted-receipt")
