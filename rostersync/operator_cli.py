"""Operator commands on one district: sync, approve, discard, disconnect and purge.

They call the services the admin API calls, and the audit log names the operator as
`cli:<os user>`. A refusal (an unknown district, no held run, ...) is one line and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from rostersync.cli_actor import cli_actor
from rostersync.cli_failures import CommandFailed
from rostersync.runtime import Runtime, runtime


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = sub.add_parser(
        "sync", help="request a sync of a district (answers with the run in progress, if any)"
    )
    sync.add_argument("district")
    sync.add_argument("--kind", choices=("full", "reconcile"), default="full")
    sync.set_defaults(handler=run_sync)
    for name, verb in (("approve", "apply"), ("discard", "drop")):
        held = sub.add_parser(name, help=f"{verb} the deactivations of a district's run held for review")
        held.add_argument("district")
        held.set_defaults(handler=run_approve if name == "approve" else run_discard)
    disconnect = sub.add_parser(
        "disconnect", help="erase a district's token and stop its syncs (its data stays)"
    )
    disconnect.add_argument("district")
    disconnect.set_defaults(handler=run_disconnect)
    purge = sub.add_parser("purge", help="disconnect a district and delete all its Clever-sourced data")
    purge.add_argument("district")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(handler=run_purge)


def _ready(*, broker: bool = False) -> Runtime:
    from rostersync import preflight
    from rostersync.logging import configure_logging

    rt = runtime()
    configure_logging(rt.settings.log_format, rt.settings.log_level)
    preflight.require_database(rt)
    preflight.require_schema_at_head(rt)
    if broker:
        if rt.settings.embedded_broker:
            raise CommandFailed(
                "sync needs RabbitMQ (BROKER_URL): the in-process broker runs inside the gateway, "
                "so request the sync there (POST /v1/districts/{id}/sync or the integrations page)"
            )
        preflight.require_broker(rt.settings)
    return rt


def _known(rt: Runtime, district_id: str) -> None:
    from storage import connections

    with rt.engine.connect() as conn:
        if connections.get_district(conn, district_id) is None:
            raise CommandFailed(f"unknown district {district_id}")


def run_sync(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from rostersync.bootstrap import ensure_broker
    from services.sync_requests import RunHeld, SyncRefused, request_sync
    from storage import read_models

    rt = _ready(broker=True)
    _known(rt, args.district)
    ensure_broker(connection_attempts=1)
    actor = cli_actor()
    try:
        ticket = request_sync(rt, args.district, kind=args.kind, requested_by=actor)
    except RunHeld as exc:
        raise CommandFailed(
            f"{exc} (`rostersync approve {args.district}` or `rostersync discard {args.district}`)"
        ) from None
    except SyncRefused as exc:
        raise CommandFailed(f"district {args.district}: {exc}") from None
    with rt.engine.begin() as conn:
        read_models.record_audit(
            conn,
            district_id=args.district,
            actor=actor,
            action="sync.requested",
            subject=ticket.run_id,
            details={"kind": args.kind, "created": ticket.created},
        )
    if ticket.created:
        print(f"sync requested: run {ticket.run_id} ({args.kind})", file=out)
    else:
        print(f"a run is already in progress: {ticket.run_id}", file=out)
    return 0


def run_approve(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    return _resolve(args.district, approve=True, out=out)


def run_discard(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    return _resolve(args.district, approve=False, out=out)


def _resolve(district_id: str, *, approve: bool, out: TextIO) -> int:
    from services.finish_run import resolve_held_run
    from storage import runs

    rt = _ready()
    _known(rt, district_id)
    with rt.engine.connect() as conn:
        held = runs.held_run(conn, district_id)
    if held is None:
        raise CommandFailed(f"district {district_id} has no run held for review")
    try:
        status = resolve_held_run(rt, held["id"], approve=approve, actor=cli_actor())
    except (LookupError, ValueError) as exc:  # decided by someone else meanwhile
        raise CommandFailed(f"run {held['id']}: {exc}") from None
    print(f"run {held['id']} {'approved' if approve else 'discarded'}: {status}", file=out)
    return 0


def run_disconnect(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from services.lifecycle import disconnect_district

    rt = _ready()
    _known(rt, args.district)
    generation = disconnect_district(rt, args.district, actor=cli_actor())
    print(f"district {args.district} disconnected (generation {generation}); its data stays", file=out)
    return 0


def run_purge(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from services.lifecycle import purge_district

    rt = _ready()
    _known(rt, args.district)  # a receipt for a district that never existed would be a lie
    if not args.yes and not _confirmed(args.district):
        raise CommandFailed("purge cancelled: nothing was deleted")
    counts = purge_district(rt, args.district, actor=cli_actor())
    for table, count in sorted(counts.items()):
        print(f"{table:20} {count}", file=out)
    return 0


def _confirmed(district_id: str) -> bool:
    print(
        f"This disconnects district {district_id} and deletes every row that came from Clever.\n"
        f"Type the district id to confirm: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    answer = sys.stdin.readline()
    return answer.strip() == district_id
