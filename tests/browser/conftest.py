"""A real browser against a real deployment: headless Chromium driven by Selenium (Debian's
`chromium` and `chromium-driver`), and one stack for the directory (simulator with Clever's consent
screen, gateway and worker processes, PostgreSQL, RabbitMQ), reusing the end-to-end Stack.

Screenshots go to SCREENSHOT_DIR when it is set (e.g. docs/screenshots), else to a directory
under pytest's tmp path, kept as test artifacts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from cryptography.fernet import Fernet
from e2e.conftest import ADMIN_TOKEN, IDENTITY_KEY, Stack
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from sqlalchemy import create_engine, text

from messaging import queues
from simulator.testing import start_simulator
from storage.database import normalize_url
from storage.tables import metadata

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH, HEIGHT = 1100, 900


def _truncate(url: str) -> None:
    engine = create_engine(normalize_url(url))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _delete_queues(broker_url: str, prefix: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    for kind in queues.ALL:
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(queue=f"{prefix}{kind}{suffix}")
    connection.close()


@pytest.fixture(scope="package")
def stack(postgres_url: str, broker_url: str) -> Iterator[Stack]:
    """Two simulated districts (one per tenant), Clever's consent screen on, small pages so a
    sync takes several and its progress can be watched."""
    _truncate(postgres_url)
    prefix = f"b{uuid.uuid4().hex[:10]}."
    sim = start_simulator(schools=2, districts=2, extra_args=["--consent-screen"])
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "BROKER_URL": broker_url,
        "QUEUE_PREFIX": prefix,
        "CLEVER_API_BASE": sim.base_url,
        "CLEVER_OAUTH_BASE": sim.base_url,
        "CLEVER_CLIENT_ID": sim.client_id,
        "CLEVER_CLIENT_SECRET": sim.client_secret,
        "ENCRYPTION_KEYS": f"b:{Fernet.generate_key().decode()}",
        "ADMIN_TOKENS": ADMIN_TOKEN,
        "IDENTITY_KEYS": IDENTITY_KEY,
        "PAGE_LIMIT": "40",
        "APPLY_CHUNK_SIZE": "40",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }
    built = Stack(env=env, sim=sim, engine=create_engine(normalize_url(postgres_url)))
    try:
        built.start_worker(threads=4)
        built.start_gateway()
        yield built
    finally:
        built.stop()
        _delete_queues(broker_url, prefix)


@pytest.fixture(scope="package")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the test may run as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("SCREENSHOT_DIR")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
