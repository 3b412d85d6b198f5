"""End a run as failed, and leave the district in the state the failure calls for."""

from __future__ import annotations

import structlog

from clever_client.errors import CleverError
from rostersync.runtime import Runtime
from storage import connections, runs

log = structlog.get_logger(__name__)


def gave_up(retries: int, cause: str | None) -> str:
    """A run's error when its crawl message gave up: the cause first, then how long it tried."""
    if not cause:
        return f"gave up after {retries} retries"
    return cause if retries == 0 else f"{cause} (gave up after {retries} retries)"


def fail_run(rt: Runtime, run_id: str, error: CleverError | str, *, needs_reauth: bool = False) -> None:
    with rt.engine.begin() as conn:
        run = runs.get_run(conn, run_id)
        if run is None:
            return
        runs.finish_run(conn, run_id, "failed", error=str(error)[:2000])
        status = "needs_reauth" if needs_reauth else "active"
        district = connections.get_district(conn, run["district_id"])
        if district is not None and district["status"] in ("syncing", "active", "needs_reauth"):
            connections.set_status(conn, run["district_id"], status)
    log.warning("sync.failed", run_id=run_id, error=str(error)[:500], needs_reauth=needs_reauth)
