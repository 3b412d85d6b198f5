"""Long-running processes: the gateway (uvicorn) and the Dramatiq workers.

With the embedded broker there is no RabbitMQ to share, so the gateway process runs the
workers itself; with RabbitMQ each runs on its own and scales per queue.
"""

from __future__ import annotations

import argparse

import structlog

from messaging import queues
from rostersync.runtime import Runtime

log = structlog.get_logger(__name__)


def serve_gateway(rt: Runtime, host: str, port: int) -> int:
    import uvicorn

    from gateway.app import build_app
    from rostersync.bootstrap import ensure_broker
    from rostersync.embedded import EmbeddedWorker

    ensure_broker(connection_attempts=1)  # a webhook sender gets a quick 503, not a long wait
    worker = EmbeddedWorker.start_if_embedded(rt)
    log.info("gateway.starting", host=host, port=port, **rt.settings.describe_backends())
    try:
        # uvicorn handles SIGTERM/SIGINT: it stops accepting, finishes requests, then returns.
        uvicorn.run(build_app(rt), host=host, port=port, log_config=None, access_log=False)
    finally:
        if worker is not None:
            worker.stop()
    return 0


def run_workers(rt: Runtime, kinds: list[str] | None, *, processes: int, threads: int) -> int:
    if rt.settings.embedded_broker:
        log.error(
            "worker.needs_rabbitmq",
            reason="BROKER_URL is unset: the gateway and the demo run workers in-process",
        )
        return 2
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    argv = ["actors", "--processes", str(processes), "--threads", str(threads), "--skip-logging"]
    if kinds:
        argv += ["--queues", *(_queue(kind) for kind in kinds)]
    log.info(
        "worker.starting",
        queues=kinds or "all",
        processes=processes,
        threads=threads,
        **rt.settings.describe_backends(),
    )
    # Dramatiq's CLI forks the worker processes and stops them gracefully on SIGTERM.
    parsed: argparse.Namespace = make_argument_parser().parse_args(argv)
    return int(dramatiq_main(parsed) or 0)


def _queue(kind: str) -> str:
    base, _, lane = kind.partition(".")
    if base not in queues.ALL:
        raise SystemExit(f"unknown queue {kind!r}; queues are {', '.join(queues.ALL)} (and lanes)")
    if lane and lane not in queues.dedicated_lanes():
        raise SystemExit(f"lane {lane!r} is not in DEDICATED_LANES")
    return queues.queue_name(base, queues.validate_lane(lane) if lane else None)


def run_scheduler(rt: Runtime, *, tick_seconds: float, once: bool) -> int:
    import os
    import signal
    import socket
    import threading

    from services.scheduler import tick

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    scheduler_id = f"{socket.gethostname()}:{os.getpid()}"
    log.info(
        "scheduler.starting",
        scheduler_id=scheduler_id,
        tick_seconds=tick_seconds,
        **rt.settings.describe_backends(),
    )
    while not stopping.is_set():
        try:
            enqueued = tick(rt, scheduler_id=scheduler_id)
            if any(enqueued.values()):
                log.info("scheduler.enqueued", **enqueued)
        except Exception:  # a database or broker hiccup must not end the scheduler
            log.exception("scheduler.tick_failed")
        if once:
            break
        stopping.wait(tick_seconds)
    log.info("scheduler.stopped")
    return 0
