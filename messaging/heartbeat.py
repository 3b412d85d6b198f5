"""A file touched while a process works, for container health checks (HEARTBEAT_FILE).

A worker touches it while every consumer and worker thread of its process is alive; the
scheduler after each tick that succeeded. The check only compares the file's age with a bound,
so it needs neither the broker nor the database: `python -m messaging.heartbeat [SECONDS]` exits 0
when HEARTBEAT_FILE was touched within SECONDS (default 60), else 1.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dramatiq
import structlog

log = structlog.get_logger(__name__)

EVERY_SECONDS = 10.0


def touch(path: str) -> None:
    try:
        Path(path).touch()
    except OSError as exc:  # a health signal must never take the process down
        log.warning("heartbeat.not_written", error=str(exc))


def age_seconds(path: str) -> float | None:
    """Seconds since the last touch, or None when the file was never written (or none is set)."""
    if not path:
        return None
    try:
        return time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        return None


class Heartbeat(dramatiq.Middleware):
    def __init__(self, path: str, every: float = EVERY_SECONDS) -> None:
        self.path = path
        self.every = every
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        threading.Thread(target=self._beat, args=(worker,), name="heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._stop.set()

    def _beat(self, worker: Any) -> None:
        while True:
            threads = [*worker.consumers.values(), *worker.workers]
            if threads and all(thread.is_alive() for thread in threads):
                touch(self.path)
            if self._stop.wait(self.every):
                return


def main(argv: list[str]) -> int:
    within = float(argv[0]) if argv else 60.0
    age = age_seconds(os.environ.get("HEARTBEAT_FILE", ""))
    if age is None or age > within:
        print("no heartbeat" if age is None else f"last heartbeat {age:.0f} s ago", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
