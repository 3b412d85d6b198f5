"""Start the end of a run once its current crawler ended the crawl and every page is applied.

Only the holder of the run's current crawl token can set `ingest_done`, and pages a superseded
crawler sent are dropped by the apply, so the applied pages are compared with the current
crawl's count. The `finish_run` message goes through the outbox: written in the transaction
that found the run complete, published after its commit (or by the relay). The ingest and each
apply check after their own commit, in a transaction of its own, so whichever commits last sees
both (a redelivered message checks again, so a crash in between loses nothing). Two checks may
both find the run complete: `finish_run` is idempotent.
"""

from __future__ import annotations

from sqlalchemy import Connection

from rostersync.runtime import Runtime
from services.outbox_relay import publish_after_commit
from storage import outbox, runs


def queue_finish_if_applied(conn: Connection, run_id: str, generation: int) -> int | None:
    """The outbox row of the run's `finish_run`, written in `conn`'s transaction when it is due."""
    run = runs.run_progress(conn, run_id)
    if run is None or run["status"] != "running" or not run["ingest_done"]:
        return None
    if runs.pages_applied(conn, run_id) < int(run["pages_published"]):
        return None
    return outbox.add(
        conn,
        "reconcile",
        "finish_run",
        {"district_id": run["district_id"], "run_id": run_id, "generation": generation},
        now=runs.now(),
    )


def finish_when_applied(rt: Runtime, run_id: str, generation: int) -> bool:
    with rt.engine.begin() as conn:
        queued = queue_finish_if_applied(conn, run_id, generation)
    if queued is None:
        return False
    publish_after_commit(rt, [queued])
    return True
