"""What the browser tests do over and over: sign in as VenueOS sends a person, wait for the page
to say something, fill and send forms, take screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from e2e.conftest import IDENTITY_KEY, Stack
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from gateway.identity import IdentityKeyring, issue_assertion
from gateway.sessions import COOKIE_NAME
from rostersync.settings import Settings

WIDTH, HEIGHT = 1100, 900
WAIT = 120.0  # a bound on waiting for the worker, not a speed assertion


def sign_in(
    driver: webdriver.Chrome,
    stack: Stack,
    tenant: str | None,
    role: str = "district_admin",
    *,
    ttl_seconds: int | None = None,
) -> None:
    """The handoff VenueOS performs: /session with a signed assertion, then the page. The
    session ends with the assertion, so `ttl_seconds` makes one that expires soon."""
    target = "/integrations/clever" if role == "district_admin" else "/ops"
    driver.delete_all_cookies()
    if ttl_seconds is None:
        assertion = stack.assertion(tenant=tenant or "", role=role)
    else:
        keyring = IdentityKeyring.from_settings(Settings(identity_keys=(IDENTITY_KEY,)))
        assertion = issue_assertion(
            keyring, sub="e2e-admin", tenant=tenant, role=role, ttl_seconds=ttl_seconds
        )
    query = urlencode({"assertion": assertion, "next": target})
    driver.get(f"{stack.gateway_url}/session?{query}")
    assert driver.current_url == f"{stack.gateway_url}{target}", driver.current_url


def open_page(driver: webdriver.Chrome, stack: Stack, path: str = "/integrations/clever") -> None:
    driver.get(f"{stack.gateway_url}{path}")


def approve_on_clever(driver: webdriver.Chrome, stack: Stack, shots: Path | None = None) -> None:
    """On the simulator's consent page: check it is Clever's, then Approve."""
    wait_for(lambda: driver.current_url.startswith(stack.sim.base_url), "Clever's consent page")
    assert "read:sections" in text_of(driver, "#scopes")
    if shots is not None:
        save_screenshot(driver, shots, "clever-consent")
    find(driver, "#approve").click()
    wait_for(lambda: "/connect/" in driver.current_url, "the connect progress page")


def find(driver: webdriver.Chrome, css: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, css)


def click_through(driver: webdriver.Chrome, target: str | WebElement) -> None:
    """Click a link or a form's button and wait until the next page replaced this one (the old
    document carries a mark the new one does not)."""
    driver.execute_script("window.__leaving = true;")
    element = find(driver, target) if isinstance(target, str) else target
    element.click()
    wait_for(lambda: _arrived(driver), "the next page", poll=0.05)


def _arrived(driver: webdriver.Chrome) -> bool:
    try:
        return bool(
            driver.execute_script("return window.__leaving !== true && document.readyState === 'complete';")
        )
    except WebDriverException:  # the document went away between two questions
        return False


def text_of(driver: webdriver.Chrome, css: str) -> str:
    try:
        return str(find(driver, css).text)
    except (NoSuchElementException, StaleElementReferenceException, WebDriverException):
        return ""


def state(driver: webdriver.Chrome) -> str:
    try:
        return str(find(driver, "#state").get_attribute("data-state"))
    except (NoSuchElementException, StaleElementReferenceException, WebDriverException):
        return ""


def wait_for(
    predicate: Callable[[], Any],
    what: str,
    *,
    timeout: float = WAIT,
    refresh: webdriver.Chrome | None = None,
    poll: float = 0.5,
) -> Any:
    """Wait (WebDriverWait) until `predicate` holds and return its value; with `refresh`,
    reload that page between tries (as a person would with JavaScript off)."""
    first = True

    def attempt(_: object) -> Any:
        nonlocal first
        if refresh is not None and not first:
            refresh.refresh()
        first = False
        return predicate()

    try:
        return WebDriverWait(refresh, timeout, poll_frequency=poll).until(attempt)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def session_client(driver: webdriver.Chrome, stack: Stack) -> httpx.Client:
    """An HTTP client carrying the browser's session cookie (to send what no page offers)."""
    cookie = driver.get_cookie(COOKIE_NAME)
    assert cookie is not None
    return httpx.Client(base_url=stack.gateway_url, cookies={COOKIE_NAME: cookie["value"]}, timeout=30)


def save_screenshot(driver: webdriver.Chrome, directory: Path, name: str) -> Path:
    """The whole page, not only the window: the window grows to the page's height first."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WIDTH, min(max(height, 600), 1800))
    target = directory / f"{name}.png"
    driver.save_screenshot(str(target))
    driver.set_window_size(WIDTH, HEIGHT)
    return target
