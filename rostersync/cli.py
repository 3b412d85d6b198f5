"""`rostersync` command line: one subcommand per process or operator task."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rostersync import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rostersync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply every migration (PostgreSQL or the embedded SQLite file)")

    gateway = sub.add_parser("gateway", help="serve the HTTP gateway")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8000)

    worker = sub.add_parser("worker", help="run Dramatiq workers for all queues or some")
    worker.add_argument(
        "--queues",
        nargs="*",
        default=None,
        help="queue kinds to consume, e.g. apply ingest.big (default: all)",
    )
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=8)
    worker.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="messages each process holds per queue (sets WORKER_PREFETCH; default: twice the threads)",
    )

    scheduler = sub.add_parser("scheduler", help="enqueue nightly reconciles and event polls")
    scheduler.add_argument("--tick", type=float, default=15.0, help="seconds between passes")
    scheduler.add_argument("--once", action="store_true", help="one pass, then exit")

    from rostersync.operator_cli import add_arguments as add_operator_commands

    add_operator_commands(sub)  # sync, approve, discard, disconnect, purge
    doctor = sub.add_parser("doctor", help="check the database, broker, queues, keys and Clever; a table")
    doctor.add_argument("--no-clever", action="store_true", help="skip the Clever checks")

    sim = sub.add_parser("simulator", help="run the Clever simulator on its own")
    from simulator.cli import add_arguments as add_simulator_arguments

    add_simulator_arguments(sim)

    demo = sub.add_parser("demo", help="connect a simulated 10-school district and sync it")
    demo.add_argument("--schools", type=int, default=10)
    demo.add_argument("--latency-ms", type=int, default=0)
    demo.add_argument(
        "--serve",
        action="store_true",
        help="after the sync, print a signed-in link to the integrations page and serve it until interrupted",
    )

    # The benchmarks ship with a source checkout only (the image leaves them out): bench parses
    # its own arguments when it runs, so no other subcommand imports it ("+" keeps argparse from
    # taking its options, --help included).
    bench = sub.add_parser(
        "bench",
        help="measure the pipeline against this machine's own limits",
        add_help=False,
        prefix_chars="+",
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)

    runs = sub.add_parser("runs", help="list a district's sync runs (every district's latest without one)")
    runs.add_argument("district", nargs="?")
    runs.add_argument("--limit", type=int, default=20)

    keys = sub.add_parser("keys", help="encryption keys for tokens at rest")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("new", help="print a new key for ENCRYPTION_KEYS")
    keys_sub.add_parser("rotate", help="re-encrypt stored tokens with the first key of ENCRYPTION_KEYS")

    failed = sub.add_parser("failed", help="list, replay or drop the messages that gave up")
    from rostersync.failed_cli import add_arguments as add_failed_arguments

    add_failed_arguments(failed)

    assertion = sub.add_parser("assertion", help="print a signed identity assertion (demo sign-in)")
    from rostersync.assertion_cli import add_arguments as add_assertion_arguments

    add_assertion_arguments(assertion)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A subcommand may name its own handler (set_defaults); the others live in commands.py.
    handler = getattr(args, "handler", None) or getattr(commands, f"cmd_{args.command}")
    try:
        commands.check_configuration(args)
        return int(handler(args) or 0)
    except Exception as exc:
        # Expected failures (bad settings, a database or broker away, an unknown district) are
        # one line and an exit code; anything else is a bug and keeps its traceback.
        from rostersync.cli_failures import one_line

        described = one_line(exc)
        if described is None:
            raise
        print(f"rostersync {args.command}: {described[0]}", file=sys.stderr)
        return described[1]


if __name__ == "__main__":
    sys.exit(main())
