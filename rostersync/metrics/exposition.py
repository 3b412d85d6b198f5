"""How each process serves `/metrics`.

- The gateway is one process: a `/metrics` route of its own app (gateway/metrics.py).
- The scheduler is one process: a small HTTP server on METRICS_PORT, with the gauges read
  from the database (`state`).
- `rostersync worker` runs several Dramatiq processes. Rather than a port per process (which
  Prometheus would have to be told about one by one), they share prometheus_client's
  multiprocess mode: each process writes its series to files in PROMETHEUS_MULTIPROC_DIR,
  and one extra process (a Dramatiq fork function) serves their sum on METRICS_PORT. The mode
  is chosen when prometheus_client is imported, so the worker command prepares the directory
  before it starts the processes, and starts them fresh (spawned, not forked) so that none
  inherits series made before the variable was set.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.registry import Collector

from rostersync.settings import ConfigError

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """The registry to serve: every process's files in multiprocess mode, else this process's
    own series; `extra` collectors (read at scrape time) are served beside them."""
    registry = CollectorRegistry()  # a new one: the process-wide registry is never changed
    if multiprocess_dir() is None:
        registry.register(REGISTRY)
    else:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    for collector in extra:
        registry.register(collector)
    return registry


def check_port(host: str, port: int) -> None:
    """Fail at start with a clear reason rather than serve no metrics unnoticed."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                "METRICS_PORT",
                f"is {port}, but {host}:{port} cannot be listened on ({exc.strerror})",
                "give each worker and scheduler command on a host a free port of its own",
            ) from None


def serve(host: str, port: int, registry: CollectorRegistry) -> None:
    """Serve `/metrics` from a daemon thread of this process."""
    check_port(host, port)
    start_http_server(port, addr=host, registry=registry)


def prepare_multiprocess_dir() -> tuple[str, bool]:
    """Set PROMETHEUS_MULTIPROC_DIR for the worker processes about to start: the operator's
    directory emptied (files of a previous run would add to this one's counters), or a new
    temporary one. Returns the directory and whether it was made here (to remove it after)."""
    given = multiprocess_dir()
    if given is not None:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path), False
    made = tempfile.mkdtemp(prefix="rostersync-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made, True


def remove_multiprocess_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def serve_worker_metrics() -> int:
    """A Dramatiq fork function: serve the sum of the worker processes' series until stopped."""
    from rostersync.settings import Settings

    settings = Settings.from_env()
    if settings.metrics_port is None:
        return 0
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=scrape_registry())
    threading.Event().wait()  # SIGTERM ends the fork process (Dramatiq's handler exits)
    return 0


def mark_process_dead(pid: int) -> None:
    """Drop a stopped worker process's live gauges (pool use, rate-limit budget)."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
