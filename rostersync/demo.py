"""`rostersync demo`: a simulated 10-school district, connected through the OAuth flow and synced
by the real actors, on the embedded default or on PostgreSQL and RabbitMQ when configured."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from sqlalchemy import func, select

from gateway.identity import IdentityKeyring, issue_assertion
from rostersync.runtime import Runtime, set_runtime
from rostersync.settings import Settings
from simulator.testing import SimulatorHandle, free_port, start_simulator
from storage import runs
from storage.tables import SYNCED_TABLES, districts, staff_users

log = structlog.get_logger(__name__)


def run_demo(*, schools: int, latency_ms: int, serve: bool = False) -> int:
    print(f"Starting the Clever simulator with a {schools}-school district...", file=sys.stderr)
    sim = start_simulator(schools=schools, extra_args=["--latency-ms", str(latency_ms)])
    workers: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        os.environ.update(
            CLEVER_API_BASE=sim.base_url,
            CLEVER_OAUTH_BASE=sim.base_url,
            CLEVER_CLIENT_ID=sim.client_id,
            CLEVER_CLIENT_SECRET=sim.client_secret,
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        )
        # The demo signs its own district admin in, as VenueOS would: a key of its own if none is set.
        os.environ.setdefault("IDENTITY_KEYS", f"demo:{secrets.token_hex(32)}")
        rt = Runtime(Settings.from_env())
        set_runtime(rt)
        print(
            f"Database: {rt.settings.describe_backends()['database']}; "
            f"broker: {rt.settings.describe_backends()['broker']}",
            file=sys.stderr,
        )
        from storage.migrate import upgrade

        upgrade(rt.settings.database_url)
        if not rt.settings.embedded_broker:
            workers = subprocess.Popen([sys.executable, "-m", "rostersync.cli", "worker", "--threads", "8"])
        _serve_gateway_in_thread(rt, port)
        started = time.monotonic()
        since = runs.now()
        assertion = issue_assertion(
            IdentityKeyring.from_settings(rt.settings), sub="demo-admin", tenant="demo", role="district_admin"
        )
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            page = browser.get(
                f"http://127.0.0.1:{port}/session",
                params={"assertion": assertion, "next": "/oauth/clever/start"},
            )
        if page.status_code != 200:
            print(f"Connecting failed: {page.status_code} {page.text[:200]}", file=sys.stderr)
            return 1
        run = _follow_progress(rt, sim, since)
        elapsed = time.monotonic() - started
        _report(rt, sim, run, elapsed)
        if serve:
            _serve_until_interrupted(rt, port)
        return 0 if run["status"] == "succeeded" else 1
    finally:
        if workers is not None:
            workers.terminate()
            workers.wait(timeout=60)
        sim.stop()


def _serve_until_interrupted(rt: Runtime, port: int) -> None:
    """Print a link that signs the demo's district admin in, then keep serving until Ctrl-C or
    SIGTERM (the simulator, gateway and workers stay up for the browser)."""
    ring = IdentityKeyring.from_settings(rt.settings)
    assertion = issue_assertion(ring, sub="demo-admin", tenant="demo", role="district_admin")
    query = urlencode({"assertion": assertion, "next": "/integrations/clever"})
    print("\nThe integrations page, signed in as the demo district's admin (the link works for an hour):")
    print(f"  http://127.0.0.1:{port}/session?{query}")
    print("Serving until interrupted (Ctrl-C).", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass


def _serve_gateway_in_thread(rt: Runtime, port: int) -> None:
    import uvicorn

    from gateway.app import build_app
    from rostersync.bootstrap import ensure_broker
    from rostersync.embedded import EmbeddedWorker

    ensure_broker()
    EmbeddedWorker.start_if_embedded(rt)
    config = uvicorn.Config(build_app(rt), host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="gateway", daemon=True).start()
    while not server.started:
        time.sleep(0.05)


# What each kind of row is called on the progress line, in crawl order.
PROGRESS_LABELS = {
    "tenant": "schools",
    "term": "terms",
    "course": "courses",
    "classroom": "classrooms",
    "staff": "staff",
}
STAFF_ROLES = ("district_admin", "staff", "teacher")
PLAIN_LINE_EVERY_SECONDS = 2.0


def expected_totals(snapshot: dict[str, Any]) -> dict[str, int]:
    """How many rows of each kind the sync will write, known before it starts (students never)."""
    by_role = snapshot.get("users_by_role") or {}
    return {
        "tenant": len(snapshot.get("schools") or []) + 1,  # the district is a tenant too
        "term": len(snapshot.get("terms") or []),
        "course": len(snapshot.get("courses") or []),
        "classroom": len(snapshot.get("sections") or []),
        # One person may hold several roles (a teacher who is also staff): count each once.
        "staff": len({user["id"] for role in STAFF_ROLES for user in by_role.get(role) or []}),
    }


def progress_line(applied: dict[str, dict[str, int]], totals: dict[str, int], status: str) -> str:
    """One line: rows applied of each kind against a total fixed at the start."""
    parts = []
    for kind, label in PROGRESS_LABELS.items():
        done = sum(n for outcome, n in (applied.get(kind) or {}).items() if outcome != "deactivated")
        parts.append(f"{label} {min(done, totals[kind])}/{totals[kind]}")
    return f"{', '.join(parts)}; run {status}"


class ProgressOutput:
    """A line redrawn in place in a terminal; elsewhere (a log, a pipe) plain lines, each one
    printed only when it changed and at most every couple of seconds."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""
        self.last_at = 0.0

    def show(self, line: str, *, final: bool = False) -> None:
        if self.terminal:
            self.stream.write(f"\r{line:<{len(self.last)}}" + ("\n" if final else ""))
            self.last = line
        elif line != self.last and (final or time.monotonic() - self.last_at >= PLAIN_LINE_EVERY_SECONDS):
            self.stream.write(line + "\n")
            self.last, self.last_at = line, time.monotonic()
        self.stream.flush()


def _follow_progress(rt: Runtime, sim: SimulatorHandle, since: datetime, timeout: float = 600.0) -> Any:
    """Show the progress of the run this demo started (not one of an earlier demo)."""
    district_id = sim.district.id
    totals = expected_totals(sim.snapshot())
    output = ProgressOutput()
    deadline = time.monotonic() + timeout
    run: Any = None
    while time.monotonic() < deadline:
        with rt.engine.connect() as conn:
            run = runs.latest_run(conn, district_id)
            if run is not None and _aware(run["queued_at"]) < since:
                run = None
            applied = runs.page_totals(conn, run["id"])[1] if run else {}
        if run is not None:
            finished = run["status"] not in runs.ACTIVE_STATUSES
            output.show(progress_line(applied, totals, run["status"]), final=finished)
            if finished:
                break
        time.sleep(0.2)
    if run is None:
        raise SystemExit("no sync run started; see the log above")
    return run


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _report(rt: Runtime, sim: SimulatorHandle, run: Any, elapsed: float) -> None:
    district_id = sim.district.id
    with rt.engine.connect() as conn:
        name = conn.execute(select(districts.c.name).where(districts.c.id == district_id)).scalar()
        counts = {
            entity_type: conn.execute(
                select(func.count()).where(table.c.district_id == district_id, table.c.active.is_(True))
            ).scalar_one()
            for entity_type, table in SYNCED_TABLES.items()
        }
        roles: Counter[str] = Counter(
            dict(
                conn.execute(
                    select(staff_users.c.synced_role, func.count())
                    .where(staff_users.c.district_id == district_id, staff_users.c.active.is_(True))
                    .group_by(staff_users.c.synced_role)
                ).all()
            )
        )
    print(
        f"\nDistrict {name or district_id}: sync {run['status']} in {elapsed:.1f} s (connect to run finished)"
    )
    if run["error"]:
        print(f"  error: {run['error']}")
    print(f"  schools and district: {counts['tenant']}")
    print(f"  staff users:          {counts['staff']}")
    for role, count in sorted(roles.items()):
        print(f"    {role:<20} {count}")
    print(f"  classrooms:           {counts['classroom']}")
    print(f"  terms:                {counts['term']}")
    print(f"  courses:              {counts['course']}")
