"""What each `rostersync` subcommand does. Heavy imports stay inside the functions so that
`rostersync --help` is fast and a worker never loads the gateway."""

from __future__ import annotations

import argparse
import os
import sys

import structlog

from rostersync.logging import configure_logging
from rostersync.runtime import runtime

log = structlog.get_logger(__name__)


def _logging() -> None:
    s = runtime().settings
    configure_logging(s.log_format, s.log_level)


# Commands that read no settings: `keys new` must work while ENCRYPTION_KEYS is still missing.
_WITHOUT_SETTINGS = ("simulator", "bench")


def check_configuration(args: argparse.Namespace) -> None:
    """Read and check every setting once, before the command does anything (ConfigError)."""
    if args.command in _WITHOUT_SETTINGS or getattr(args, "keys_command", None) == "new":
        return
    if getattr(args, "prefetch", None) is not None:
        # `worker --prefetch N` is WORKER_PREFETCH for its processes, checked like any setting.
        os.environ["WORKER_PREFETCH"] = str(args.prefetch)
    runtime()


def cmd_db(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    _logging()
    settings = runtime().settings
    upgrade(settings.database_url)
    log.info("db.upgraded", **settings.describe_backends())
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    from rostersync.preflight import require_keys
    from rostersync.processes import serve_gateway

    _logging()
    require_keys(runtime())
    return serve_gateway(runtime(), args.host, args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    from rostersync.cli_failures import EXIT_CONFIGURATION, CommandFailed
    from rostersync.preflight import before_work
    from rostersync.processes import run_workers

    _logging()
    rt = runtime()
    if rt.settings.embedded_broker:
        raise CommandFailed(
            "BROKER_URL is unset: set it to RabbitMQ's URL (with the embedded broker the gateway "
            "and the demo run the workers in-process)",
            EXIT_CONFIGURATION,
        )
    # A worker on an older schema would take messages and fail each one: refuse to start instead.
    before_work(rt)
    return run_workers(rt, args.queues, processes=args.processes, threads=args.threads)


def cmd_simulator(args: argparse.Namespace) -> int:
    from simulator.cli import run

    run(args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import os

    from rostersync import preflight
    from rostersync.demo import run_demo

    # The demo talks to a person: its progress bar and summary, not the workers' info lines.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("LOG_FORMAT", "console")
    from rostersync.logging import configure_logging

    configure_logging(os.environ["LOG_FORMAT"], os.environ["LOG_LEVEL"])
    # One line now rather than connection errors from every thread once the demo is under way.
    rt = runtime()
    preflight.require_broker(rt.settings)
    preflight.require_database(rt)
    preflight.require_keys(rt)
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
    from rostersync.preflight import require_keys, require_schema_at_head

    _logging()
    require_keys(runtime())
    require_schema_at_head(runtime())
    count = rotate_tokens(runtime())
    print(f"re-encrypted {count} token(s)")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from rostersync.bootstrap import ensure_broker
    from rostersync.preflight import before_work
    from rostersync.processes import run_scheduler

    _logging()
    before_work(runtime())
    ensure_broker()
    return run_scheduler(runtime(), tick_seconds=args.tick, once=args.once)


def cmd_doctor(args: argparse.Namespace) -> int:
    from rostersync.doctor import run

    _logging()
    return run(runtime(), out=sys.stdout, clever=not args.no_clever)


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        from bench.cli import add_arguments, run
    except ModuleNotFoundError as exc:
        if exc.name != "bench":
            raise
        missing = "the benchmarks are not part of this installation; run them from a source checkout"
        if {"-h", "--help"} & set(args.bench_args):
            print(f"usage: rostersync bench [options]\n\n{missing} (pip install -e .)")
            return 0
        print(f"rostersync bench: {missing} (pip install -e .)", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="rostersync bench", description="Measure the pipeline against this machine's own limits."
    )
    add_arguments(parser)
    return run(parser.parse_args(args.bench_args))
