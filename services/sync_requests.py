"""Start a sync for a district, or answer with the one already in progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from rostersync.runtime import Runtime
from services.outbox_relay import publish_after_commit
from storage import connections, outbox, runs

log = structlog.get_logger(__name__)

SYNC_KINDS = ("full", "reconcile", "reconnect")


class SyncRefused(Exception):
    """The district cannot sync now (unknown, disconnected, or waiting for re-authorization)."""


class RunHeld(SyncRefused):
    """A run of the district waits for someone to approve or discard its deletions: a new sync
    would see Clever afresh and silently drop that decision, so it waits too."""

    def __init__(self, run_id: str, why: str | None) -> None:
        self.run_id = run_id
        self.why = why or "held for review"
        super().__init__(f"run {run_id} is held ({self.why}); approve or discard it first")


@dataclass(frozen=True)
class SyncTicket:
    run_id: str
    created: bool  # False: a run was already in progress and is returned instead


def request_sync(
    rt: Runtime,
    district_id: str,
    *,
    kind: str = "full",
    requested_by: str,
    supersede_held: bool = False,
) -> SyncTicket:
    """`supersede_held`: a reconnect decides for the admin (the held plan is discarded); any other
    request for a district with a held run is refused with RunHeld."""
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
        held = runs.held_run(conn, district_id)
        if held is not None and not supersede_held:
            raise RunHeld(held["id"], held["error"])
        # A newer run sees Clever afresh; an older held plan could deactivate what it restores.
        runs.discard_held_runs(conn, district_id, reason="superseded by a reconnect")
        generation = int(district["generation"])
        run_id = runs.create_run(
            conn, district_id, kind=kind, generation=generation, requested_by=requested_by
        )
        lane = (district["options"] or {}).get("lane")
        # Committed with the run: a broker that cannot take it now leaves it to the relay.
        queued = outbox.add(
            conn,
            "ingest",
            "ingest_run",
            {"district_id": district_id, "run_id": run_id, "generation": generation},
            lane=lane,
            now=runs.now(),
        )
    publish_after_commit(rt, [queued])
    # Only the kind of requester: a person's `sub` (in `district_admin:<sub>@<tenant>`) stays out of logs.
    by = requested_by.partition(":")[0]
    log.info("sync.requested", district_id=district_id, run_id=run_id, kind=kind, by=by)
    return SyncTicket(run_id, created=True)
