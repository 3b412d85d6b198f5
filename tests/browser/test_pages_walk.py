"""The rest of the pages, walked in headless Chromium by the second tenant's district admin: the
synced schools, classrooms and terms with their pagination, the bell-schedule editor, the history
with the audit log, and the error pages a person meets when signed out or sending a stale form.
Every page passes the accessibility checks. Runs after test_integrations_walk on the same stack
(which leaves tenant B connected), or alone (it connects tenant B itself)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from accessibility import check_page, tab_reaches
from browser_support import (
    approve_on_clever,
    click_through,
    find,
    open_page,
    save_screenshot,
    sign_in,
    state,
    text_of,
    wait_for,
)
from e2e.conftest import Stack
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from storage.tables import audit_log

pytestmark = pytest.mark.e2e

TENANT_B = "tenant-b"
BASE = "/integrations/clever"
MANUAL = [("Homeroom", "07:50", "08:05"), ("Block A", "08:10", "09:40"), ("Block B", "09:50", "11:20")]


@pytest.fixture(scope="module")
def district_b(stack: Stack, browser: webdriver.Chrome) -> str:
    """Tenant B's district, connected and synced."""
    district_id = stack.sim.districts[1].id
    sign_in(browser, stack, TENANT_B)
    if state(browser) == "not_connected":
        admin = stack.sim.snapshot(district_id)["users_by_role"]["district_admin"][0]["id"]
        stack.sim.set_next_login(admin, district_id)
        click_through(browser, "#connect")
        approve_on_clever(browser, stack)
        open_page(browser, stack)
    wait_for(lambda: text_of(browser, "#last-status") == "succeeded", "B's sync", refresh=browser)
    return district_id


def first_cells(driver: webdriver.Chrome) -> list[str]:
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#records tbody th[scope='row']")]


@pytest.mark.parametrize(
    ("page", "resource"), [("schools", "schools"), ("classrooms", "sections"), ("terms", "terms")]
)
def test_the_synced_records_are_listed_page_by_page(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path, district_b: str, page: str, resource: str
) -> None:
    expected = sorted(item["name"] for item in stack.sim.snapshot(district_b)[resource])
    sign_in(browser, stack, TENANT_B)
    open_page(browser, stack, f"{BASE}/{page}")
    check_page(browser)
    assert find(browser, "nav.tabs a[aria-current='page']").text.lower() == page
    if page == "classrooms":
        save_screenshot(browser, screenshots, "integrations-classrooms")

    # Follow "Next page" to the end: every row of Clever's appears once, none twice.
    seen, pages = first_cells(browser), 1
    while browser.find_elements(By.CSS_SELECTOR, "a[rel='next']"):
        click_through(browser, "a[rel='next']")
        rows = first_cells(browser)
        assert rows, "a next page with nothing on it"
        seen, pages = seen + rows, pages + 1
    assert sorted(seen) == expected
    assert pages == -(-len(expected) // 50)  # the page size


def test_a_manual_bell_schedule_is_in_force_until_it_is_removed(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path, district_b: str
) -> None:
    sign_in(browser, stack, TENANT_B)
    open_page(browser, stack, f"{BASE}/bell-schedules")
    check_page(browser)
    section = find(browser, "section[id^='schedule-']")
    school = str(section.get_attribute("id")).removeprefix("schedule-")
    card = f"#schedule-{school}"
    assert "from Clever" in text_of(browser, f"{card} .in-force")
    clever_labels = labels_in_force(browser, card)
    assert clever_labels

    find(browser, f"{card} summary").click()
    editor = find(browser, f"#periods-{school}")
    editor.clear()
    editor.send_keys("\n".join(", ".join(period) for period in MANUAL))
    click_through(browser, f"{card} form button.primary")
    assert "saved and in force" in text_of(browser, "#notice")
    assert "entered here" in text_of(browser, f"{card} .in-force")
    assert labels_in_force(browser, card) == [label for label, _, _ in MANUAL]
    save_screenshot(browser, screenshots, "integrations-bell-schedules")

    # The admin API says the same, to the same signed-in person.
    listing = api_schedules(stack, district_b)[school]
    assert listing["source"] == "manual" and listing["has_manual"] is True
    assert [(p["label"], p["start"], p["end"]) for p in listing["periods"]] == MANUAL

    find(browser, f"{card} summary").click()
    click_through(browser, f"{card} form[action$='/clear'] button")
    assert "removed" in text_of(browser, "#notice")
    assert "from Clever" in text_of(browser, f"{card} .in-force")
    assert labels_in_force(browser, card) == clever_labels
    assert api_schedules(stack, district_b)[school]["source"] == "clever"


def labels_in_force(driver: webdriver.Chrome, card: str) -> list[str]:
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, f"{card} tbody th[scope='row']")]


def api_schedules(stack: Stack, district_id: str) -> dict[str, dict[str, object]]:
    headers = {"Authorization": f"Bearer {stack.assertion(tenant=TENANT_B)}"}
    response = httpx.get(
        f"{stack.gateway_url}/v1/districts/{district_id}/bell-schedules", headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    return {item["school_id"]: item for item in response.json()["bell_schedules"]}


def test_the_keyboard_reaches_sync_now_and_the_history_shows_who_did_what(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path, district_b: str
) -> None:
    sign_in(browser, stack, TENANT_B)
    check_page(browser)
    tab_reaches(browser, "#sync-now")
    click_through(browser, "#sync-now")  # the click a keyboard's Enter makes on a focused button
    wait_for(lambda: state(browser) == "active", "the sync to end", refresh=browser)

    open_page(browser, stack, f"{BASE}/history")
    check_page(browser)
    actor = f"district_admin:e2e-admin@{TENANT_B}"
    audit = [
        [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        for row in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
    ]
    done = [(who, what) for _, who, what, _ in audit]
    # The sync just requested, and (from the walk above) the schedule saved and removed.
    assert (actor, "sync.requested") in done
    assert (actor, "bell_schedule.manual_saved") in done
    assert (actor, "bell_schedule.manual_deleted") in done
    assert (actor, "district.connected") in done
    runs = browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    assert actor in runs[0].text and "succeeded" in runs[0].text
    save_screenshot(browser, screenshots, "integrations-history")


def test_a_stale_form_is_refused_with_what_to_do_next(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path, district_b: str
) -> None:
    sign_in(browser, stack, TENANT_B)
    runs_before, audit_before = len(stack.runs(district_b)), audit_rows(stack, district_b)
    # A form left open from an older session carries that session's token.
    browser.execute_script(
        "document.querySelectorAll(\"input[name='csrf_token']\").forEach(i => i.value = 'an-older-session');"
    )
    click_through(browser, "#sync-now")
    assert text_of(browser, "h1") == "This form is out of date"
    assert "nothing was changed" in text_of(browser, "#reason").lower()
    assert "Reload the page" in text_of(browser, "#next-step")
    check_page(browser)
    save_screenshot(browser, screenshots, "error-stale-form")
    assert len(stack.runs(district_b)) == runs_before and audit_rows(stack, district_b) == audit_before


def audit_rows(stack: Stack, district_id: str) -> int:
    with stack.engine.connect() as conn:
        query = select(func.count()).select_from(audit_log).where(audit_log.c.district_id == district_id)
        return int(conn.execute(query).scalar_one())


def test_without_a_session_the_page_explains_how_to_sign_in(
    stack: Stack, browser: webdriver.Chrome, screenshots: Path, district_b: str
) -> None:
    open_page(browser, stack, "/healthz")
    browser.delete_all_cookies()
    open_page(browser, stack, f"{BASE}/staff")
    assert text_of(browser, "h1") == "Please sign in"
    assert "missing or has expired" in text_of(browser, "#reason")
    assert "in VenueOS again to sign in" in text_of(browser, "#next-step")
    check_page(browser)
    save_screenshot(browser, screenshots, "error-sign-in")

    # A session ends with the assertion VenueOS signed: a short one runs out while the page is open.
    sign_in(browser, stack, TENANT_B, ttl_seconds=3)
    assert state(browser) == "active"
    wait_for(lambda: text_of(browser, "h1") == "Please sign in", "the session to expire", refresh=browser)
    assert "in VenueOS again to sign in" in text_of(browser, "#next-step")
