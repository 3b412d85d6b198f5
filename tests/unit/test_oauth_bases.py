"""Compose's demo: the browser reaches Clever's consent page at one address (localhost) while the
connect worker reaches Clever's token endpoint at another (the simulator's service name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_gateway_oauth import IDENTITY_KEYS, sign_in
from test_gateway_support import Harness

from rostersync.settings import ConfigError, Settings

BROWSER_BASE = "http://localhost:8765"
SERVER_BASE = "http://simulator:8765"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    overrides = {"clever_oauth_base": SERVER_BASE, "clever_oauth_browser_base": BROWSER_BASE}
    with Harness.open(tmp_path, identity_keys=IDENTITY_KEYS, **overrides) as harness:
        harness.client.base_url = "https://testserver"  # type: ignore[assignment]
        yield harness


def test_the_consent_redirect_uses_the_browser_base_and_the_exchange_the_server_base(h: Harness) -> None:
    sign_in(h)
    response = h.client.get("/oauth/clever/start")
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{BROWSER_BASE}/oauth/authorize?")
    assert h.rt.oauth().oauth_base == SERVER_BASE


def test_the_browser_base_defaults_to_the_oauth_base() -> None:
    settings = Settings.from_env({"CLEVER_OAUTH_BASE": SERVER_BASE})
    assert settings.clever_authorize_base == SERVER_BASE
    both = Settings.from_env(
        {"CLEVER_OAUTH_BASE": SERVER_BASE, "CLEVER_OAUTH_BROWSER_BASE": BROWSER_BASE + "/"}
    )
    assert (both.clever_authorize_base, both.clever_oauth_base) == (BROWSER_BASE, SERVER_BASE)
    with pytest.raises(ConfigError, match="CLEVER_OAUTH_BROWSER_BASE"):
        Settings.from_env({"CLEVER_OAUTH_BROWSER_BASE": "localhost:8765"})


def test_queue_type_is_classic_or_quorum() -> None:
    assert Settings.from_env({}).queue_type == "classic"
    assert Settings.from_env({"QUEUE_TYPE": "Quorum"}).queue_type == "quorum"
    with pytest.raises(ConfigError, match="QUEUE_TYPE"):
        Settings.from_env({"QUEUE_TYPE": "stream"})
