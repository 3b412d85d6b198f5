"""A whole deployment per test: the Clever simulator, PostgreSQL, RabbitMQ, and the gateway and
worker processes started as an operator starts them (`rostersync gateway`, `rostersync worker`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import waiting
from cryptography.fernet import Fernet
from sqlalchemy import Engine, RowMapping, create_engine, select

from gateway.identity import IdentityKeyring, issue_assertion
from rostersync.settings import Settings
from simulator.testing import SimulatorHandle, free_port, start_simulator
from storage.database import normalize_url
from storage.tables import sync_runs

ADMIN_TOKEN = "e2e-admin-token"
WEBHOOK_SECRET = "e2e-webhook-secret"
IDENTITY_KEY = "e2e:e2e-identity-secret-0123456789abcdef"  # how VenueOS signs assertions here
TENANT = "e2e-tenant"
WAIT_LIMIT = 180.0  # a bound on waiting, not a speed assertion


def wait_until(predicate: Callable[[], Any], *, timeout: float = WAIT_LIMIT, what: str = "condition") -> Any:
    """`waiting.wait_until` with the end-to-end bound: a whole deployment syncs in between."""
    return waiting.wait_until(predicate, what, timeout=timeout, every=0.1)


@dataclass
class Stack:
    env: dict[str, str]
    sim: SimulatorHandle
    engine: Engine
    gateway_url: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, *args: str, log_path: Path | None = None) -> subprocess.Popen[bytes]:
        """`log_path`: where the process's output goes (its JSON log lines), else the test's own."""
        with contextlib.ExitStack() as files:
            output = files.enter_context(log_path.open("ab")) if log_path else None
            process = subprocess.Popen(
                [sys.executable, "-m", "rostersync.cli", *args],
                env=self.env,
                start_new_session=True,
                stdout=output,
                stderr=output,
            )
        self.processes.append(process)
        return process

    def start_worker(
        self, *queues: str, processes: int = 1, threads: int = 4, log_path: Path | None = None
    ) -> subprocess.Popen[bytes]:
        args = ["worker", "--processes", str(processes), "--threads", str(threads)]
        if queues:
            args += ["--queues", *queues]
        return self._spawn(*args, log_path=log_path)

    def start_gateway(self) -> None:
        # A port found free can be taken before the gateway binds it (an outgoing connection's
        # ephemeral port): a gateway that exits at once is started again on another port.
        for _ in range(3):
            port = free_port()
            self.gateway_url = f"http://127.0.0.1:{port}"
            self.env["PUBLIC_BASE_URL"] = self.gateway_url  # Clever redirects back here
            gateway = self._spawn("gateway", "--port", str(port))
            wait_until(
                lambda gateway=gateway: gateway.poll() is not None or self._gateway_up(),
                what="the gateway to answer /healthz",
                timeout=60,
            )
            if gateway.poll() is None:
                return
        raise AssertionError("the gateway exited at start three times")

    def _gateway_up(self) -> bool:
        try:
            return httpx.get(f"{self.gateway_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Signal a process and all its children (Dramatiq forks worker processes)."""
        os.killpg(process.pid, sig)
        process.wait(timeout=60)

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.gateway_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )

    def assertion(self, tenant: str = TENANT, role: str = "district_admin") -> str:
        """An identity assertion as VenueOS would sign it for a signed-in person."""
        keyring = IdentityKeyring.from_settings(Settings(identity_keys=(IDENTITY_KEY,)))
        return issue_assertion(keyring, sub="e2e-admin", tenant=tenant, role=role)

    def connect_via_oauth(self, tenant: str = TENANT) -> httpx.Response:
        """What a district admin does: sign in from VenueOS, click Connect, approve at Clever, land
        on the progress page (the session cookie rides along, as in a browser)."""
        with httpx.Client(timeout=30, follow_redirects=True) as browser:
            params = {"assertion": self.assertion(tenant), "next": "/oauth/clever/start"}
            return browser.get(f"{self.gateway_url}/session", params=params)

    def runs(self, district_id: str) -> list[RowMapping]:
        with self.engine.connect() as conn:
            query = select(sync_runs).where(sync_runs.c.district_id == district_id)
            return [r._mapping for r in conn.execute(query.order_by(sync_runs.c.queued_at))]

    def wait_for_runs(self, district_id: str, count: int, *, timeout: float = WAIT_LIMIT) -> list[RowMapping]:
        """Wait until `count` runs of the district have ended; returns them, oldest first."""

        def ended() -> list[RowMapping] | None:
            found = self.runs(district_id)
            done = [r for r in found if r["status"] not in ("queued", "running")]
            return found if len(done) >= count else None

        return list(wait_until(ended, timeout=timeout, what=f"{count} finished run(s)"))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.sim.stop()
        self.engine.dispose()


@pytest.fixture
def make_stack(clean_postgres: str, broker_url: str, queue_prefix: str) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def build(
        schools: int = 3,
        *,
        gateway: bool = True,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        **sim_args: Any,
    ) -> Stack:
        sim = start_simulator(schools=schools, **sim_args)
        env = {
            **os.environ,
            "DATABASE_URL": clean_postgres,
            "BROKER_URL": broker_url,
            "QUEUE_PREFIX": queue_prefix,
            "CLEVER_API_BASE": sim.base_url,
            "CLEVER_OAUTH_BASE": sim.base_url,
            "CLEVER_CLIENT_ID": sim.client_id,
            "CLEVER_CLIENT_SECRET": sim.client_secret,
            "ENCRYPTION_KEYS": f"e2e:{Fernet.generate_key().decode()}",
            "ADMIN_TOKENS": ADMIN_TOKEN,
            "WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "IDENTITY_KEYS": IDENTITY_KEY,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        stack = Stack(env=env, sim=sim, engine=create_engine(normalize_url(clean_postgres)))
        stacks.append(stack)
        for _ in range(workers):
            stack.start_worker()
        if gateway:
            stack.start_gateway()
        return stack

    yield build
    for stack in stacks:
        stack.stop()
