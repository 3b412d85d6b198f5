"""Closed-loop webhook load from wrk, a compiled generator that is not the bottleneck, with its
own CPU use reported.

wrk's Lua has no HMAC, so each request is signed before the run: a pool file holds one
`signature<TAB>body` line per event (timestamps within the gateway's five-minute window, each
event id distinct) and the script sends the pool once, in order, then stops. A request that failed
is not attributable to its event, so any failure marks the run's events as not all accepted.
Once the pool is answered the script leaves a marker file and the bench ends wrk with SIGINT.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.loadgen import sign as sign_body
from bench.stats import rate
from bench.webhooks import Event, generator_cpu

MISSING = "wrk not found (apt-get install wrk): the burst falls back to the Python load generator"

SCRIPT = r"""
pool, n, i, answered, refused = {}, 0, 0, 0, 0  -- globals: done() reads them through thread:get
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  marker = args[2]
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    n = n + 1
    pool[n] = wrk.format("POST", nil,
      {["Content-Type"] = "application/json", ["Clever-Signature"] = line:sub(1, tab - 1)},
      line:sub(tab + 1))
  end
end
function request()
  i = i + 1
  return pool[((i - 1) % n) + 1]  -- past the pool (one per open connection): an idempotent repeat
end
function response(status, headers, body)
  answered = answered + 1
  if status ~= 202 then refused = refused + 1 end
  if answered == n then  -- the pool is answered: tell the bench, which stops wrk (SIGINT)
    io.open(marker, "w"):close()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local answered_all, refused_all = 0, 0
  for _, t in ipairs(threads) do
    answered_all = answered_all + t:get("answered")
    refused_all = refused_all + t:get("refused")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"answered":%d,"refused":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, answered_all, refused_all,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _running(pid: int) -> bool:
    # WNOWAIT leaves the exited process to wait4, which reads its CPU time.
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def burst(
    url: str, secret: str, events: list[Event], *, connections: int, cap_seconds: float
) -> dict[str, Any]:
    """Send every event once over `connections` keep-alive connections from one wrk thread."""
    stamp = int(time.time())
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        pool, script = Path(tmp, "pool.tsv"), Path(tmp, "signed.lua")
        pool.write_text("".join(f"{sign_body(secret, stamp, e.body.encode())}\t{e.body}\n" for e in events))
        script.write_text(SCRIPT)
        args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(cap_seconds))}s", "--timeout", "10s"]
        marker = Path(tmp, "answered")
        args += ["-s", str(script), url, "--", str(pool), str(marker)]
        started = time.monotonic()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # wrk runs for its whole -d even when its thread stopped; SIGINT ends it at once, summary
        # printed, so its duration is the pool's.
        while _running(process.pid) and not marker.exists():
            time.sleep(0.005)
        if _running(process.pid):
            process.send_signal(signal.SIGINT)
        # wait4 gives the exited process's own CPU time, exactly (no sampling).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        output = process.stdout.read() if process.stdout else ""
        process.returncode = os.waitstatus_to_exitcode(status)
    line = next((ln for ln in output.splitlines() if ln.startswith("WRKJSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output.strip()[-500:]}")
    got = json.loads(line.removeprefix("WRKJSON "))
    seconds = got["duration_us"] / 1e6
    accepted = got["answered"] - got["refused"]
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "generator": generator_cpu("wrk (1 thread)", cpu, wall),
        "requests": got["requests"],
        "accepted": accepted,
        "refused": got["refused"],
        "socket_errors": got["socket_errors"],
        "all_accepted": got["refused"] == 0 and got["socket_errors"] == 0 and got["answered"] >= len(events),
        "seconds": round(seconds, 3),
        "accepted_per_s": rate(accepted, seconds),
        "latency": {
            "p50_ms": round(got["p50_us"] / 1000, 2),
            "p95_ms": round(got["p95_us"] / 1000, 2),
            "p99_ms": round(got["p99_us"] / 1000, 2),
            "max_ms": round(got["max_us"] / 1000, 2),
        },
    }
