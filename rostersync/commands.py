"""What each `rostersync` subcommand does. Heavy imports stay inside the functions so that
`rostersync --help` is fast and a worker never loads the gateway."""

from __future__ import annotations

import argparse
import sys

import structlog

from rostersync.logging import configure_logging
from rostersync.runtime import runtime

log = structlog.get_logger(__name__)


def _logging() -> None:
    s = runtime().settings
    configure_logging(s.log_format, s.log_level)


def cmd_db(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    _logging()
    settings = runtime().settings
    upgrade(settings.database_url)
    log.info("db.upgraded", **settings.describe_backends())
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    from rostersync.processes import serve_gateway

    _logging()
    return serve_gateway(runtime(), args.host, args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    from rostersync.processes import run_workers

    _logging()
    return run_workers(runtime(), args.queues, processes=args.processes, threads=args.threads)


def cmd_simulator(args: argparse.Namespace) -> int:
    from simulator.cli import run

    run(args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import os

    from rostersync.demo import run_demo

    # The demo talks to a person: its progress bar and summary, not the workers' info lines.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("LOG_FORMAT", "console")
    from rostersync.logging import configure_logging

    configure_logging(os.environ["LOG_FORMAT"], os.environ["LOG_LEVEL"])
    return run_demo(schools=args.schools, latency_ms=args.latency_ms, serve=args.serve)


def cmd_runs(args: argparse.Namespace) -> int:
    from rostersync.run_report import print_runs

    return print_runs(runtime(), args.district, limit=args.limit, out=sys.stdout)


def cmd_keys(args: argparse.Namespace) -> int:
    from rostersync.crypto import new_key

    if args.keys_command == "new":
        print(new_key())
        return 0
    from rostersync.key_rotation import rotate_tokens

    _logging()
    count = rotate_tokens(runtime())
    print(f"re-encrypted {count} token(s)")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from rostersync.bootstrap import ensure_broker
    from rostersync.processes import run_scheduler

    _logging()
    ensure_broker()
    return run_scheduler(runtime(), tick_seconds=args.tick, once=args.once)


def cmd_purge(args: argparse.Namespace) -> int:
    from services.lifecycle import purge_district

    _logging()
    counts = purge_district(runtime(), args.district, actor="cli")
    for table, count in sorted(counts.items()):
        print(f"{table:20} {count}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.cli import run

    return run(args)
