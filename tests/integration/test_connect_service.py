"""The connect service against the simulator over HTTP, PostgreSQL and RabbitMQ: the code is single
use, so a connect retried after dying between the exchange and the save must finish from Clever's
token listing; a Clever district owned by one tenant cannot be taken by another."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from structlog.testing import capture_logs

from clever_client.errors import CleverBadRequest
from clever_client.oauth import SCOPES, CleverOAuth
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.connect import OWNED_ELSEWHERE, ConnectFailed, connect_district
from simulator.state import SimulatorState
from simulator.testing import in_process_simulator
from storage import read_models
from storage.tables import audit_log, districts, oauth_states, sync_runs

pytestmark = pytest.mark.integration

REDIRECT = "https://sync.example.test/oauth/clever/callback"
TENANT_A, TENANT_B = "venue-tenant-a", "venue-tenant-b"


class WorkerKilled(BaseException):
    """Stands for SIGKILL at one point: nothing after it runs, nothing catches it."""


@pytest.fixture
def sim() -> Iterator[tuple[httpx.Client, SimulatorState]]:
    with in_process_simulator(schools=1) as pair:
        yield pair


@pytest.fixture
def rt(
    sim: tuple[httpx.Client, SimulatorState], clean_postgres: str, broker_url: str, queue_prefix: str
) -> Iterator[Runtime]:
    client, state = sim
    base = str(client.base_url).rstrip("/")
    settings = Settings(
        database_url=clean_postgres,
        broker_url=broker_url,
        clever_api_base=base,
        clever_oauth_base=base,
        clever_client_id=state.auth.client_id,
        clever_client_secret=state.auth.client_secret,
        encryption_keys=(f"it:{Fernet.generate_key().decode()}",),
    )
    broker = make_broker(broker_url)
    runtime = Runtime(settings, broker=broker)
    yield runtime
    broker.close()
    runtime.engine.dispose()


def authorize(client: httpx.Client, state: SimulatorState) -> str:
    """Approve at the simulated Clever with our scopes; returns the one-time code."""
    params = {
        "client_id": state.auth.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "state": "s",
        "scope": " ".join(SCOPES),
    }
    response = client.get("/oauth/authorize", params=params)
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def attempt(rt: Runtime, nonce: str, tenant: str = TENANT_A) -> None:
    """What the gateway's callback writes before it publishes the connect message."""
    assert read_models.claim_nonce(rt.engine, nonce, tenant_id=tenant, session_id="s" * 64)


def connect(rt: Runtime, nonce: str, code: str, tenant: str = TENANT_A) -> str:
    return connect_district(
        rt,
        nonce=nonce,
        redirect_uri=REDIRECT,
        code_ciphertext=rt.keyring.encrypt(code),
        tenant_id=tenant,
        actor=f"district_admin:ada@{tenant}",
    )


def exchanges(state: SimulatorState) -> list[int]:
    return [e["status"] for e in state.log.entries() if (e["method"], e["path"]) == ("POST", "/oauth/tokens")]


def row(rt: Runtime, nonce: str) -> dict[str, object]:
    with rt.engine.connect() as conn:
        return dict(conn.execute(select(oauth_states).where(oauth_states.c.nonce == nonce)).one()._mapping)


def test_connect_stores_the_token_for_the_tenant_and_follows_its_run(
    rt: Runtime, sim: tuple[httpx.Client, SimulatorState]
) -> None:
    client, state = sim
    district_id = next(iter(state.districts))
    attempt(rt, "nonce-connect-000000001")
    with capture_logs() as logs:
        assert connect(rt, "nonce-connect-000000001", authorize(client, state)) == district_id
    with rt.engine.connect() as conn:
        stored = conn.execute(select(districts).where(districts.c.id == district_id)).one()
        runs = conn.execute(select(sync_runs.c.id).where(sync_runs.c.district_id == district_id)).all()
        audit = conn.execute(select(audit_log)).one()
    token = state.token_of(district_id)
    assert token and rt.keyring.decrypt(stored.token_ciphertext) == token
    assert stored.tenant_id == TENANT_A and stored.status == "active"
    assert list(stored.scopes) == list(SCOPES)  # what we asked for, nothing about students
    assert row(rt, "nonce-connect-000000001")["run_id"] == runs[0].id
    assert (audit.actor, audit.action) == (f"district_admin:ada@{TENANT_A}", "district.connected")
    assert token not in json.dumps(logs, default=str)


def test_a_connect_killed_after_the_exchange_finishes_from_the_token_listing(
    rt: Runtime, sim: tuple[httpx.Client, SimulatorState], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, state = sim
    district_id = next(iter(state.districts))
    code = authorize(client, state)
    attempt(rt, "nonce-crash-00000000001")

    real_listing = CleverOAuth.district_tokens

    def die(self: CleverOAuth, district: str | None = None) -> list[object]:
        raise WorkerKilled

    monkeypatch.setattr(CleverOAuth, "district_tokens", die)
    with pytest.raises(WorkerKilled):
        connect(rt, "nonce-crash-00000000001", code)
    recorded = row(rt, "nonce-crash-00000000001")
    assert (recorded["exchanged_district_id"], recorded["district_id"]) == (district_id, None)

    # The code is spent: Clever (the simulator) would answer invalid_grant to a second exchange.
    spent = CleverOAuth(rt.settings.clever_oauth_base, "", state.auth.client_id, state.auth.client_secret)
    with spent, pytest.raises(CleverBadRequest, match="invalid"):
        spent.exchange_code(code, REDIRECT)
    monkeypatch.setattr(CleverOAuth, "district_tokens", real_listing)
    assert connect(rt, "nonce-crash-00000000001", code) == district_id  # the redelivered message
    assert exchanges(state) == [200, 400]  # the retry never tried the spent code again
    with rt.engine.connect() as conn:
        stored = conn.execute(select(districts).where(districts.c.id == district_id)).one()
    assert rt.keyring.decrypt(stored.token_ciphertext) == state.token_of(district_id)
    assert row(rt, "nonce-crash-00000000001")["run_id"] is not None


def test_a_redelivery_after_the_save_starts_no_second_run(
    rt: Runtime, sim: tuple[httpx.Client, SimulatorState]
) -> None:
    client, state = sim
    district_id = next(iter(state.districts))
    code = authorize(client, state)
    attempt(rt, "nonce-twice-00000000001")
    connect(rt, "nonce-twice-00000000001", code)
    connect(rt, "nonce-twice-00000000001", code)
    with rt.engine.connect() as conn:
        runs = conn.execute(select(sync_runs.c.id).where(sync_runs.c.district_id == district_id)).all()
    assert len(runs) == 1 and exchanges(state) == [200]


def test_a_district_owned_by_another_tenant_is_refused_and_its_token_kept(
    rt: Runtime, sim: tuple[httpx.Client, SimulatorState]
) -> None:
    client, state = sim
    district_id = next(iter(state.districts))
    attempt(rt, "nonce-tenant-a000000001", TENANT_A)
    connect(rt, "nonce-tenant-a000000001", authorize(client, state), TENANT_A)
    with rt.engine.connect() as conn:
        before = conn.execute(select(districts).where(districts.c.id == district_id)).one()

    attempt(rt, "nonce-tenant-b000000001", TENANT_B)
    with pytest.raises(ConnectFailed):
        connect(rt, "nonce-tenant-b000000001", authorize(client, state), TENANT_B)
    with rt.engine.connect() as conn:
        after = conn.execute(select(districts).where(districts.c.id == district_id)).one()
        actions = [a for (a,) in conn.execute(select(audit_log.c.action))]
    assert row(rt, "nonce-tenant-b000000001")["error"] == OWNED_ELSEWHERE
    assert row(rt, "nonce-tenant-b000000001")["district_id"] is None
    assert (after.tenant_id, after.token_ciphertext, after.authorized_by) == (
        TENANT_A,
        before.token_ciphertext,
        before.authorized_by,
    )
    assert actions == ["district.connected"]


def test_a_code_clever_refuses_fails_the_attempt_for_good(
    rt: Runtime, sim: tuple[httpx.Client, SimulatorState]
) -> None:
    attempt(rt, "nonce-badcode000000001")
    with pytest.raises(ConnectFailed):
        connect(rt, "nonce-badcode000000001", "not-a-code-clever-issued")
    assert "Clever refused the authorization code" in str(row(rt, "nonce-badcode000000001")["error"])
