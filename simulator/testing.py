"""Start the Clever simulator as a real subprocess and drive its ``/_sim`` control API.

Typical use (pytest-free)::

    from simulator.testing import running_simulator

    with running_simulator(schools=3) as sim:
        district = sim.districts[0]
        httpx.get(f"{sim.base_url}/v3.0/users", headers={"Authorization": f"Bearer {district.token}"})
        sim.mutate(district.id, op="update", resource="users", id=user_id, data={"name": {"last": "Doe"}})
        assert not any(dict(r["query"]).get("role") == "student" for r in sim.requests())

In a pytest module, wrap it in a fixture::

    @pytest.fixture(scope="module")
    def sim():
        with running_simulator(schools=2) as handle:
            yield handle
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from simulator.app import build_app
from simulator.cli import READY_PREFIX
from simulator.state import SimulatorConfig, SimulatorState


@dataclass
class SimDistrict:
    """One simulated district: its Clever id, current district-app token and name."""

    id: str
    token: str | None
    name: str = ""

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class SimulatorHandle:
    """A running simulator process. All methods call its control API and raise on HTTP errors."""

    base_url: str
    client_id: str
    client_secret: str
    districts: list[SimDistrict]
    process: subprocess.Popen[str] | None = None
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=200))
    _http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.base_url, timeout=120.0)

    # ------------------------------------------------------------ helpers
    @property
    def district(self) -> SimDistrict:
        """The first district (most tests use one)."""
        return self.districts[0]

    def district_by_id(self, district_id: str) -> SimDistrict:
        return next(d for d in self.districts if d.id == district_id)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"/_sim{path}", json=body)
        response.raise_for_status()
        return response.json()

    def api(self, path: str, district_id: str | None = None, **params: Any) -> httpx.Response:
        """GET a data-API path (e.g. ``/v3.0/users``) with the district's current token."""
        district = self.district_by_id(district_id) if district_id else self.district
        return self._http.get(path, params=params, headers=district.auth_header)

    # -------------------------------------------------------- control API
    def health(self) -> bool:
        return bool(self._call("GET", "/health").get("ok"))

    def district_info(self) -> list[dict[str, Any]]:
        """``[{"id","name","token","connected","events_enabled","latest_event_id","counts":{...}}]``."""
        return list(self._call("GET", "/districts")["districts"])

    def add_district(self, schools: int = 1, seed: int | None = None) -> SimDistrict:
        """Generate and connect another district at runtime (e.g. a new district authorises the app)."""
        body: dict[str, Any] = {"schools": schools}
        if seed is not None:
            body["seed"] = seed
        info = self._call("POST", "/districts", body)
        district = SimDistrict(info["id"], info["token"], info["name"])
        self.districts.append(district)
        return district

    def requests(self) -> list[dict[str, Any]]:
        """Logged requests: ``{"seq","time","method","path","query":[[k,v],...],"token","status"}``."""
        return list(self._call("GET", "/requests")["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def mutate(self, district_id: str, *ops: dict[str, Any], **op: Any) -> list[dict[str, Any]]:
        """Apply mutations, each recording an event. Pass op dicts or one op as keywords::

            sim.mutate(did, op="update", resource="users", id=uid, data={...}, unset=["roles.staff"])
            sim.mutate(did, {"op": "delete", "resource": "sections", "id": sid}, {...})

        ``data`` is deep-merged (nested dicts merge, other values replace); use ``unset`` (dotted paths) to
        remove keys. Returns ``[{"op","resource","id","object","event_id"}]`` (``event_id`` None if nothing
        changed).
        """
        batch = list(ops) + ([op] if op else [])
        return list(self._call("POST", f"/districts/{district_id}/mutate", batch)["results"])

    def remove_users(
        self, district_id: str, ids: list[str] | None = None, role: str | None = None, count: int = 1
    ) -> list[str]:
        """Delete users by id, or the ``count`` lowest-id users having ``role``. Returns removed ids."""
        body: dict[str, Any] = {"ids": ids} if ids is not None else {"role": role, "count": count}
        return list(self._call("POST", f"/districts/{district_id}/users/remove", body)["removed"])

    def snapshot(self, district_id: str | None = None) -> dict[str, Any]:
        """Current objects: ``district``, ``schools``, ``users``, ``users_by_role``, ``sections``, ``terms``,
        ``courses`` (plain lists of Clever objects)."""
        return dict(self._call("GET", f"/districts/{district_id or self.district.id}/snapshot"))

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Any of ``latency_ms``, ``error_rate``, ``error_statuses``, ``stall_rate``, ``stall_seconds``,
        ``seed``, ``fail_next`` (list of statuses forced on the next data-API requests)."""
        return dict(self._call("POST", "/faults", settings))

    def clear_faults(self) -> None:
        self.set_faults(latency_ms=0, error_rate=0, stall_rate=0, stall_seconds=0, fail_next=[])

    def set_rate_limit(self, limit: int, window: float) -> None:
        """Requests per window (seconds) per token; resets all current windows."""
        self._call("POST", "/ratelimit", {"limit": limit, "window": window})

    def rotate_token(self, district_id: str) -> str:
        """Issue a new token for the district; the old one answers 401 from now on."""
        token = str(self._call("POST", f"/districts/{district_id}/tokens/rotate")["token"])
        self.district_by_id(district_id).token = token
        return token

    def revoke_token(self, district_id: str) -> None:
        """Disconnect the district: its token answers 401 and vanishes from ``GET /oauth/tokens``."""
        self._call("POST", f"/districts/{district_id}/tokens/revoke")
        self.district_by_id(district_id).token = None

    def set_events_enabled(self, enabled: bool, district_id: str | None = None) -> None:
        """Turn the events feed off (``/events`` answers 403) or on again."""
        body: dict[str, Any] = {"enabled": enabled}
        if district_id:
            body["district_id"] = district_id
        self._call("POST", "/events/config", body)

    def expire_events(
        self,
        district_id: str | None = None,
        *,
        all: bool = False,
        count: int | None = None,
        keep_last: int | None = None,
        before_id: str | None = None,
    ) -> dict[str, int]:
        """Drop the oldest events (as after 30 days); cursors pointing at them then get 404."""
        body: dict[str, Any] = {"all": all, "count": count, "keep_last": keep_last, "before_id": before_id}
        if district_id:
            body["district_id"] = district_id
        return dict(self._call("POST", "/events/expire", body)["removed"])

    def set_webhook(self, url: str, secret: str, district_id: str | None = None) -> None:
        """Push every new event to ``url`` (signed ``Clever-Signature: t=..,v1=..``)."""
        self._call("POST", "/webhook", {"url": url, "secret": secret, "district_id": district_id})

    def clear_webhook(self) -> None:
        self._call("DELETE", "/webhook")

    def push_events(
        self,
        district_id: str | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> int:
        """Re-push existing events of a range to the webhook; returns how many were queued."""
        return int(
            self._call(
                "POST",
                "/webhook/push",
                {
                    "district_id": district_id,
                    "starting_after": starting_after,
                    "ending_before": ending_before,
                },
            )["queued"]
        )

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """``[{"event_id","district_id","url","attempts","status","ok","error"}]``."""
        return list(self._call("GET", "/webhook/deliveries")["deliveries"])

    def deny_next_authorization(self, error: str = "access_denied") -> None:
        """The next ``/oauth/authorize`` redirects with ``error=...`` instead of a code."""
        self._call("POST", "/oauth/next", {"error": error})

    def set_next_login(self, user_id: str, district_id: str | None = None) -> None:
        """The next ``/oauth/authorize`` logs in this user (default: the district's first district admin)."""
        self._call("POST", "/oauth/next", {"user_id": user_id, "district_id": district_id})

    def set_overshare(self, overshare: bool) -> None:
        """Serve students and contacts to every token whatever its scopes (the worst case), or not."""
        self._call("POST", "/scopes", {"honour": not overshare})

    def token_scopes(self, district_id: str | None = None) -> list[str]:
        """The scopes the district's token carries (what its admin granted)."""
        return list(self._call("GET", "/scopes")["scopes"].get(district_id or self.district.id, []))

    def student_objects_served(self) -> int:
        """Student and contact user objects in every logged answer (lists, reads, events)."""
        return sum(int(entry.get("student_objects", 0)) for entry in self.requests())

    def set_code_ttl(self, seconds: float) -> None:
        self._call("POST", "/oauth", {"code_ttl": seconds})

    def set_consent_screen(self, shown: bool) -> None:
        """Show a browser Clever's consent page (Approve / Deny) on /oauth/authorize, or not."""
        self._call("POST", "/oauth", {"consent_screen": shown})

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s)."""
        self._http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _die_with_parent() -> None:
    """Linux: SIGTERM the simulator if the test process dies without calling ``stop()``."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def start_simulator(
    schools: int = 2,
    districts: int = 1,
    seed: int = 1,
    *,
    rate_limit: int = 1200,
    rate_window: float = 60.0,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> SimulatorHandle:
    """Run ``python -m simulator`` on a free port and return once it printed its READY line.

    ``env`` entries (e.g. ``CLEVER_CLIENT_ID``) are added to the current environment. Call ``stop()``.
    On Linux the child is also terminated when the thread that started it dies, so start it from a
    long-lived thread (the main thread, as pytest fixtures do).
    """
    cmd = [
        sys.executable,
        "-m",
        "simulator",
        "--port",
        "0",
        "--schools",
        str(schools),
        "--districts",
        str(districts),
        "--seed",
        str(seed),
        "--rate-limit",
        str(rate_limit),
        "--rate-window",
        str(rate_window),
        *(extra_args or []),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        preexec_fn=_die_with_parent,
    )
    output: collections.deque[str] = collections.deque(maxlen=200)
    ready: dict[str, Any] = {}
    got_ready = threading.Event()

    def pump() -> None:  # keep draining stdout so the child never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip("\n"))
            if line.startswith(READY_PREFIX) and not got_ready.is_set():
                ready.update(json.loads(line[len(READY_PREFIX) :]))
                got_ready.set()
        got_ready.set()

    threading.Thread(target=pump, name="simulator-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not got_ready.wait(0.1):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("simulator did not start in time:\n" + "\n".join(output))
    if not ready:
        proc.wait(timeout=5)
        raise RuntimeError(f"simulator exited with {proc.returncode}:\n" + "\n".join(output))
    return SimulatorHandle(
        base_url=ready["base_url"],
        client_id=ready["client_id"],
        client_secret=ready["client_secret"],
        districts=[SimDistrict(d["id"], d["token"], d["name"]) for d in ready["districts"]],
        process=proc,
        output=output,
    )


@contextmanager
def running_simulator(**kwargs: Any) -> Iterator[SimulatorHandle]:
    """Context manager around :func:`start_simulator` that always stops the process."""
    handle = start_simulator(**kwargs)
    try:
        yield handle
    finally:
        handle.stop()


class FakeClock:
    """Manually advanced clock for in-process tests (codes expiring, rate-limit windows, event ids)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def serve_in_thread(state: SimulatorState, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``state`` with uvicorn on a free port in a background thread; yields the base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see cli.run: avoids 40 ms Nagle stalls
    sock.bind((host, 0))
    sock.listen(128)
    server = uvicorn.Server(
        uvicorn.Config(build_app(state), log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="simulator", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        state.webhook.stop()


@contextmanager
def in_process_simulator(
    schools: int = 2, districts: int = 1, seed: int = 1, clock: FakeClock | None = None, **config: Any
) -> Iterator[tuple[httpx.Client, SimulatorState]]:
    """The simulator served from a thread of this process; yields ``(client, state)``.

    ``client`` is an ``httpx.Client`` bound to the server's base URL (no redirects followed); ``state`` is
    the live :class:`SimulatorState` for direct inspection. ``config`` takes any :class:`SimulatorConfig`
    field (``rate_limit``, ``error_rate``, ``code_ttl``...).
    """
    state = SimulatorState(
        SimulatorConfig(seed=seed, schools=schools, districts=districts, **config), clock=clock or time.time
    )
    with serve_in_thread(state) as base_url, httpx.Client(base_url=base_url, timeout=60.0) as client:
        yield client, state
