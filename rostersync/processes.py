"""Long-running processes: the gateway (uvicorn) and the Dramatiq workers.

With the embedded broker there is no RabbitMQ to share, so the gateway process runs the
workers itself; with RabbitMQ each runs on its own and scales per queue.
"""

from __future__ import annotations

import argparse

import structlog

from messaging import queues
from rostersync import collector
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
        app = build_app(rt)
        # Everything loaded so far lives as long as the process: out of the collector's sight, a
        # full collection no longer walks it (pauses of tens of ms under load before).
        collector.settle()
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
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
    metrics_dir = _worker_metrics(rt, argv)
    # The checks before start-up left connections in the pool; forked workers would inherit
    # their sockets and talk over each other on them. Close them before Dramatiq forks.
    rt.engine.dispose()
    try:
        # Dramatiq's CLI forks the worker processes and stops them gracefully on SIGTERM.
        parsed: argparse.Namespace = make_argument_parser().parse_args(argv)
        return int(dramatiq_main(parsed) or 0)
    finally:
        if metrics_dir is not None:
            from rostersync.metrics.exposition import remove_multiprocess_dir

            remove_multiprocess_dir(metrics_dir)


def _worker_metrics(rt: Runtime, argv: list[str]) -> str | None:
    """With METRICS_PORT, the worker processes share prometheus_client's multiprocess mode and
    one more process serves their sum (see rostersync.metrics.exposition). Returns the
    directory to remove on exit, when this command made it."""
    port = rt.settings.metrics_port
    if port is None:
        return None
    from rostersync.metrics import exposition

    exposition.check_port(rt.settings.metrics_host, port)
    path, made = exposition.prepare_multiprocess_dir()
    # Spawned, not forked: a forked process would keep any series this one made before the
    # directory was set, and they would not be shared.
    argv += ["--use-spawn", "--fork-function", "rostersync.metrics.exposition:serve_worker_metrics"]
    log.info("worker.metrics", port=port)
    return path if made else None


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

    from messaging.heartbeat import touch
    from rostersync.metrics import record
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
    if rt.settings.metrics_port is not None and not once:
        from rostersync.metrics.exposition import scrape_registry, serve
        from rostersync.metrics.state import DeploymentState

        registry = scrape_registry(DeploymentState(rt.engine))
        serve(rt.settings.metrics_host, rt.settings.metrics_port, registry)
    failed = False
    while not stopping.is_set():
        try:
            enqueued = tick(rt, scheduler_id=scheduler_id)
            record.scheduler_tick(enqueued)
            failed = False
            if rt.settings.heartbeat_file:  # the container's health check reads its age
                touch(rt.settings.heartbeat_file)
            if any(enqueued.values()):
                log.info("scheduler.enqueued", **enqueued)
        except Exception:  # a database or broker hiccup must not end the scheduler
            record.scheduler_tick(None)
            failed = True
            log.exception("scheduler.tick_failed")
        if once:
            break
        stopping.wait(tick_seconds)
    log.info("scheduler.stopped")
    # `--once` runs from cron or a health probe: a failed pass must show in the exit code.
    return 1 if once and failed else 0
