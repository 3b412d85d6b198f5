"""`rostersync failed`: list, replay and drop the messages that gave up."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from rostersync.cli_actor import cli_actor
from rostersync.runtime import Runtime, runtime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="failed_command", required=True)
    listing = sub.add_parser("list", help="failed messages, oldest first (waiting ones by default)")
    listing.add_argument("--district", help="only this district's")
    listing.add_argument("--status", choices=("waiting", "replayed", "dropped", "all"), default="waiting")
    listing.add_argument("--limit", type=int, default=100)
    replay = sub.add_parser("replay", help="send failed messages again, with a fresh retry count")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="one failed message")
    which.add_argument("--district", help="every waiting message of this district")
    which.add_argument("--all", action="store_true", help="every waiting message")
    drop = sub.add_parser("drop", help="give up on a failed message for good")
    drop.add_argument("id", type=int)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rostersync.logging import configure_logging

    rt = runtime()
    configure_logging(rt.settings.log_format, rt.settings.log_level)
    if args.failed_command == "list":
        status = None if args.status == "all" else args.status
        return print_failed(rt, district_id=args.district, status=status, limit=args.limit, out=sys.stdout)
    if args.failed_command == "replay":
        from rostersync.bootstrap import ensure_broker

        ensure_broker()
        return replay(rt, args, out=sys.stdout)
    return drop(rt, args.id, out=sys.stdout)


def print_failed(rt: Runtime, *, district_id: str | None, status: str | None, limit: int, out: TextIO) -> int:
    from storage import failed_messages

    with rt.engine.connect() as conn:
        rows, more = failed_messages.page(conn, district_id=district_id, status=status, limit=limit)
    print(
        f"{'id':>6}  {'status':8}  {'attempts':>8}  {'last failed':19}  {'actor':16}  {'district':24}  cause",
        file=out,
    )
    for row in rows:
        print(_line(row), file=out)
    if more is not None:
        print(f"(more: raise --limit above {limit})", file=out)
    return 0


def _line(row: Any) -> str:
    last = row["last_failed_at"].strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{row['id']:>6}  {row['status']:8}  {row['attempts']:>8}  {last:19}  {row['actor']:16}  "
        f"{row['district_id'] or '-':24}  {row['cause']}"
    )


def replay(rt: Runtime, args: argparse.Namespace, *, out: TextIO) -> int:
    from services import failed_messages as service

    if args.id is not None:
        try:
            row = service.replay(rt, args.id, by=cli_actor())
        except LookupError:
            print(f"no failed message {args.id}", file=out)
            return 1
        except service.NotWaiting as exc:
            print(str(exc), file=out)
            return 1
        print(f"replayed {row['id']} ({row['actor']} to {row['queue']})", file=out)
        return 0
    outcome = service.replay_waiting(rt, by=cli_actor(), district_id=args.district)
    print(f"replayed {len(outcome.replayed)} message(s)", file=out)
    if outcome.skipped:
        print(f"skipped {len(outcome.skipped)} resolved meanwhile: {outcome.skipped}", file=out)
    return 0


def drop(rt: Runtime, failed_id: int, *, out: TextIO) -> int:
    from services import failed_messages as service

    try:
        service.drop(rt, failed_id, by=cli_actor())
    except LookupError:
        print(f"no failed message {failed_id}", file=out)
        return 1
    except service.NotWaiting as exc:
        print(str(exc), file=out)
        return 1
    print(f"dropped {failed_id}", file=out)
    return 0
