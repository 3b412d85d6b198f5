"""Signed user-update events made from real user objects, and the load generator run as a
separate process, with its per-request records summarised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.stats import latency_ms, rate
from domain.positions import position_from_time


@dataclass(frozen=True)
class Event:
    clever_id: str
    last_name: str  # the changed field, how the harness recognises the applied row
    body: str


def staff_users(base_url: str, token: str, count: int, role: str = "teacher") -> list[dict[str, Any]]:
    """`count` user objects straight from the Clever API (the full objects a sender would push)."""
    users: list[dict[str, Any]] = []
    url: str | None = f"/v3.0/users?role={role}&limit=10000"
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        while url and len(users) < count:
            page = http.get(url)
            page.raise_for_status()
            body = page.json()
            users.extend(item["data"] for item in body["data"])
            url = next((link["uri"] for link in body.get("links", []) if link["rel"] == "next"), None)
    return users[:count]


def first_event_id(after_position: str | None) -> int:
    """Event ids must sort after the run's source position and after anything already applied."""
    now = int(position_from_time(datetime.now(UTC)), 16)
    return max(now, int(after_position or "0", 16)) + 1


def user_events(users: list[dict[str, Any]], first_id: int, tag: str) -> list[Event]:
    events = []
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for seq, user in enumerate(users):
        last = f"{tag}{seq:06d}"
        name = dict(user.get("name") or {})
        changed = {**user, "name": {**name, "last": last}}
        body = {
            "id": f"{first_id + seq:024x}",
            "type": "users.updated",
            "created": created,
            "data": {"object": changed, "previous_attributes": {"name": name}},
        }
        events.append(Event(user["id"], last, json.dumps(body, separators=(",", ":"))))
    return events


def run_loadgen(
    url: str, secret: str, events: list[Event], *, mode: str, concurrency: int, rate_per_s: float = 0
) -> dict[str, Any]:
    """Run `python -m bench.loadgen` and return its raw output."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        bodies, spec, out = Path(tmp, "bodies.jsonl"), Path(tmp, "spec.json"), Path(tmp, "out.json")
        bodies.write_text("\n".join(e.body for e in events) + "\n")
        spec.write_text(
            json.dumps(
                {
                    "url": url,
                    "secret": secret,
                    "bodies_file": str(bodies),
                    "mode": mode,
                    "concurrency": concurrency,
                    "rate": rate_per_s,
                }
            )
        )
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "bench.loadgen", str(spec), str(out)])
        # wait4: the exited generator's own CPU time, reported beside what it measured.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"bench.loadgen exited {process.returncode}")
        cpu = usage.ru_utime + usage.ru_stime
        tool = f"python asyncio ({mode} loop)"
        return {
            **json.loads(out.read_text()),
            "generator": generator_cpu(tool, cpu, time.monotonic() - started),
        }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Accepted requests per second, and gateway latency from the scheduled and the actual start."""
    records = result["requests"]
    accepted = [r for r in records if r[3] == 202]
    seconds = float(result["seconds"])
    return {
        "generator": result.get("generator"),
        "requests": len(records),
        "accepted": len(accepted),
        "statuses": _statuses(records),
        "seconds": round(seconds, 3),
        "accepted_per_s": rate(len(accepted), seconds),
        "latency": latency_ms([r[2] - r[0] for r in accepted]),
        "service_latency": latency_ms([r[2] - r[1] for r in accepted]),
    }


def sent_wall_times(result: dict[str, Any]) -> list[float]:
    return [result["wall_start"] + r[1] for r in result["requests"]]


def _statuses(records: list[list[float]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        key = str(int(record[3]))
        counts[key] = counts.get(key, 0) + 1
    return counts


def generator_cpu(tool: str, cpu_seconds: float, wall_seconds: float) -> dict[str, Any]:
    """The load generator's CPU: seconds, and its share of one core and of the machine."""
    one_core = cpu_seconds / wall_seconds if wall_seconds > 0 else 0.0
    return {
        "tool": tool,
        "cpu_seconds": round(cpu_seconds, 3),
        "cpu_share_of_one_core": round(one_core, 3),
        "cpu_share_of_machine": round(one_core / (os.cpu_count() or 1), 3),
    }
