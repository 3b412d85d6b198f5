"""Start the end of a run once ingest is done and every published page is applied.

Both the ingest and each apply call this after committing; whichever sees the run complete
publishes `finish_run` (twice at worst, which the reconcile actor tolerates).
"""

from __future__ import annotations

from rostersync.runtime import Runtime
from storage import runs


def finish_when_applied(rt: Runtime, run_id: str, generation: int) -> bool:
    with rt.engine.connect() as conn:
        run = runs.run_progress(conn, run_id)
        if run is None or run["status"] != "running" or not run["ingest_done"]:
            return False
        if runs.pages_applied(conn, run_id) < int(run["pages_published"]):
            return False
    rt.publish(
        "reconcile",
        "finish_run",
        {"district_id": run["district_id"], "run_id": run_id, "generation": generation},
    )
    return True
