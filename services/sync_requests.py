"""Start a sync for a district, or answer with the one already in progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from rostersync.runtime import Runtime
from storage import connections, runs

log = structlog.get_logger(__name__)

SYNC_KINDS = ("full", "reconcile", "reconnect")


class SyncRefused(Exception):
    """The district cannot sync now (unknown, disconnected, or waiting for re-authorization)."""


@dataclass(frozen=True)
class SyncTicket:
    run_id: str
    created: bool  # False: a run was already in progress and is returned instead


def request_sync(rt: Runtime, district_id: str, *, kind: str = "full", requested_by: str) -> SyncTicket:
    if kind not in SYNC_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SYNC_KINDS)}")
    with rt.engine.begin() as conn:
        district = connections.get_district(conn, district_id, for_update=True)
        if district is None:
            raise SyncRefused("unknown district")
        if district["status"] in ("disconnected", "needs_reauth", "connecting"):
            raise SyncRefused(f"district is {district['status']}")
        in_progress = runs.active_run(conn, district_id)
        if in_progress is not None:
            # A run this quiet lost its messages: ingest records a heartbeat with every page.
            idle = runs.now() - runs.last_activity(conn, in_progress)
            if idle < timedelta(seconds=rt.settings.run_stalled_after_seconds):
                return SyncTicket(in_progress["id"], created=False)
            # Its messages were lost (dead-lettered, or an in-process broker that stopped).
            runs.finish_run(conn, in_progress["id"], "failed", error=f"abandoned: no progress for {idle}")
            log.warning("sync.abandoned", district_id=district_id, run_id=in_progress["id"])
        # A newer run sees Clever afresh; an older held plan could deactivate what it restores.
        runs.discard_held_runs(conn, district_id, reason="superseded by a newer run")
        generation = int(district["generation"])
        run_id = runs.create_run(
            conn, district_id, kind=kind, generation=generation, requested_by=requested_by
        )
        lane = (district["options"] or {}).get("lane")
    try:
        rt.publish(
            "ingest",
            "ingest_run",
            {"district_id": district_id, "run_id": run_id, "generation": generation},
            lane=lane,
        )
    except Exception:
        with rt.engine.begin() as conn:
            runs.finish_run(conn, run_id, "failed", error="could not enqueue the ingest message")
        raise
    log.info("sync.requested", district_id=district_id, run_id=run_id, kind=kind, by=requested_by)
    return SyncTicket(run_id, created=True)
