"""Start and stop a whole deployment the way an operator does: `rostersync gateway` and
`rostersync worker` processes against PostgreSQL, RabbitMQ and the Clever simulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine, RowMapping, select

from gateway.identity import IdentityKeyring, issue_assertion
from rostersync.settings import Settings
from simulator.testing import SimulatorHandle, free_port
from storage.tables import sync_runs

ADMIN_TOKEN = "bench-admin-token"
WEBHOOK_SECRET = "bench-webhook-secret"
IDENTITY_KEY = "bench:bench-identity-secret-0123456789abcdef"  # signs the benchmark admin's sign-in
MAIN_QUEUES = ("connect", "ingest", "reconcile")
ENDED = ("succeeded", "failed", "held", "discarded", "cancelled")


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def spawn(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """A child in its own session, so stopping it also stops the processes it forked."""
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass
class Deployment:
    """One gateway and, as in docker-compose.yml, workers by queue: connect+ingest+reconcile,
    events (a deep prefetch: its batches grow with it), and apply."""

    database_url: str
    broker_url: str
    queue_prefix: str
    sim: SimulatorHandle
    engine: Engine
    log_dir: Path
    page_limit: int = 10_000
    apply_chunk_size: int = 1_000
    threads: int = 4
    events_threads: int = 16
    events_prefetch: int = 256
    log_level: str = "INFO"
    gateway_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env: dict[str, str] = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "BROKER_URL": self.broker_url,
            "QUEUE_PREFIX": self.queue_prefix,
            "CLEVER_API_BASE": self.sim.base_url,
            "CLEVER_OAUTH_BASE": self.sim.base_url,
            "CLEVER_CLIENT_ID": self.sim.client_id,
            "CLEVER_CLIENT_SECRET": self.sim.client_secret,
            "ENCRYPTION_KEYS": f"bench:{Fernet.generate_key().decode()}",
            "ADMIN_TOKENS": ADMIN_TOKEN,
            "WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "IDENTITY_KEYS": IDENTITY_KEY,
            "PAGE_LIMIT": str(self.page_limit),
            "APPLY_CHUNK_SIZE": str(self.apply_chunk_size),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": self.log_level,
        }

    def _start(self, role: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{role}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        process = spawn([sys.executable, "-m", "rostersync.cli", *args], self.env, log)
        self.processes[role] = process
        return process

    def start(self, apply_processes: int = 1) -> None:
        port = free_port()
        self.gateway_url = f"http://127.0.0.1:{port}"
        self.env["PUBLIC_BASE_URL"] = self.gateway_url  # Clever redirects back here
        self._start("gateway", "gateway", "--port", str(port))
        self.start_main_worker()
        self.start_events_worker()
        self.start_apply_worker(apply_processes)
        wait_until(self._gateway_up, timeout=60, what="the gateway")

    def start_main_worker(self) -> None:
        self._start(
            "worker-main", "worker", "--queues", *MAIN_QUEUES,
            "--processes", "1", "--threads", str(self.threads),
        )  # fmt: skip

    def start_events_worker(self) -> subprocess.Popen[bytes]:
        return self._start(
            "worker-events", "worker", "--queues", "events", "--processes", "1",
            "--threads", str(self.events_threads), "--prefetch", str(self.events_prefetch),
        )  # fmt: skip

    def stop_events_worker(self) -> None:
        """Events then wait in their queue (the webhook burst measures the gateway alone)."""
        old = self.processes.pop("worker-events", None)
        if old is not None:
            stop_process(old)

    def start_apply_worker(self, processes: int) -> None:
        self._start(
            "worker-apply", "worker", "--queues", "apply",
            "--processes", str(processes), "--threads", str(self.threads),
        )  # fmt: skip

    def restart_apply_worker(self, processes: int) -> None:
        old = self.processes.pop("worker-apply", None)
        if old is not None:
            stop_process(old)
        self.start_apply_worker(processes)

    def pids(self) -> dict[str, int]:
        return {role: p.pid for role, p in self.processes.items() if p.poll() is None}

    def _gateway_up(self) -> bool:
        try:
            return httpx.get(f"{self.gateway_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def connect(self) -> httpx.Response:
        """What a district admin does: sign in from VenueOS, Connect, approve at Clever, land on
        the progress page."""
        keyring = IdentityKeyring.from_settings(Settings(identity_keys=(IDENTITY_KEY,)))
        assertion = issue_assertion(keyring, sub="bench-admin", tenant="bench", role="district_admin")
        with httpx.Client(timeout=60, follow_redirects=True) as browser:
            params = {"assertion": assertion, "next": "/oauth/clever/start"}
            response = browser.get(f"{self.gateway_url}/session", params=params)
        response.raise_for_status()
        return response

    def request_sync(self, district_id: str, kind: str) -> str:
        with httpx.Client(base_url=self.gateway_url, timeout=60) as client:
            response = client.post(
                f"/v1/districts/{district_id}/sync",
                json={"kind": kind},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        response.raise_for_status()
        return str(response.json()["run_id"])

    def runs(self, district_id: str) -> list[RowMapping]:
        with self.engine.connect() as conn:
            query = select(sync_runs).where(sync_runs.c.district_id == district_id)
            return [r._mapping for r in conn.execute(query.order_by(sync_runs.c.queued_at))]

    def wait_for_run(self, district_id: str, count: int, *, timeout: float) -> RowMapping:
        """Wait until the district's `count`-th run has ended; returns it."""

        def ended() -> RowMapping | None:
            found = self.runs(district_id)
            if len(found) >= count and found[count - 1]["status"] in ENDED:
                return found[count - 1]
            return None

        return wait_until(ended, timeout=timeout, what=f"run {count} to end", every=0.05)

    def stop(self) -> None:
        for process in self.processes.values():
            stop_process(process)
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
