"""End a full sync: mark-and-sweep deletions behind a guard, Clever bell schedules, counters.

Entities the run did not see are deactivated (soft-deleted), never from a failed or empty
fetch, and not at all when more than the district's threshold of a type would go: the run is
then held for an admin to approve or discard.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Connection

from domain.deletion_guard import plan_deactivations
from domain.entities import EntityType
from rostersync.metrics import record
from rostersync.runtime import Runtime
from services.clever_schedules import refresh_clever_schedules
from services.resources import resources_of
from storage import connections, runs
from storage.planner_statistics import analyze_after_bulk_change
from storage.seen import forget_run, sweep_facts
from storage.tables import SYNCED_TABLES, audit_log
from storage.upserts import deactivate_entities

log = structlog.get_logger(__name__)

_CHANGES = ("created", "updated", "restored", "deactivated")  # the counters of rows a run wrote


def finish_run(rt: Runtime, run_id: str, generation: int) -> str | None:
    """Returns the run's final status, or None when there was nothing to finish."""
    with rt.engine.begin() as conn:
        run = runs.get_run(conn, run_id, for_update=True)
        if run is None or run["status"] != "running" or not run["ingest_done"]:
            return None
        district = connections.get_district(conn, run["district_id"], for_update=True)
        if district is None or district["generation"] != generation:
            log.info("finish.dropped_stale_generation", run_id=run_id)
            return None
        options = district["options"] or {}
        threshold = float(options.get("deactivation_threshold", rt.settings.deactivation_threshold))
        plans = _plans(conn, run, threshold)
        held = [p for p in plans if p.held]
        _, counters = runs.page_totals(conn, run_id)
        if held:
            # Approval applies every deactivation the run found, not only the held types'.
            plan = {p.entity_type.value: list(p.candidates) for p in plans if p.candidates}
            reasons = "; ".join(p.reason for p in held)
            runs.update_run(conn, run_id, status="held", held_plan=plan, counters=counters, error=reasons)
            record.run_finished(run["kind"], "held")
            connections.set_status(conn, district["id"], "active", current_run_id=None)
            log.warning("sync.held_for_review", run_id=run_id, reason=reasons)
            return "held"
        deactivations = {p.entity_type.value: list(p.to_deactivate) for p in plans if p.to_deactivate}
        status = _complete(rt, conn, run, counters, deactivations)
        return status


def _plans(conn: Connection, run: Any, threshold: float) -> list[Any]:
    fetched = run["fetched"] or {}
    plans = []
    for entity_type in EntityType:
        table = SYNCED_TABLES[entity_type.value]
        complete = bool(run["ingest_done"]) and all(key in fetched for key in resources_of(entity_type))
        facts = sweep_facts(conn, table, run["district_id"], run["id"], entity_type.value)
        plans.append(plan_deactivations(entity_type, facts, complete, threshold))
    return plans


def _complete(
    rt: Runtime,
    conn: Connection,
    run: Any,
    counters: dict[str, dict[str, int]],
    deactivations: dict[str, list[str]],
) -> str:
    district_id = run["district_id"]
    position = run["source_position"]
    for entity_type, ids in deactivations.items():
        done = deactivate_entities(
            conn,
            SYNCED_TABLES[entity_type],
            district_id,
            ids,
            position,
            skew_seconds=rt.settings.clock_skew_seconds,
        )
        counters.setdefault(entity_type, {})["deactivated"] = done
        record.entities_written(entity_type, {"deactivated": done})
    _analyze_bulk_changes(conn, run["id"], counters)  # before the schedules read the classrooms
    schedules_written = refresh_clever_schedules(rt, conn, district_id)
    counters.setdefault("bell_schedule", {})["updated"] = schedules_written
    drift = None
    if run["kind"] == "reconcile":
        drift = sum(c.get(name, 0) for c in counters.values() for name in _CHANGES)
    # error=None: an approved run held for review no longer carries the hold's reasons as its error.
    runs.finish_run(conn, run["id"], "succeeded", counters=counters, drift=drift, error=None)
    forget_run(conn, run["id"])
    values: dict[str, Any] = {"current_run_id": None}
    cursor = (run["checkpoint"] or {}).get("events_cursor")
    district = connections.get_district(conn, district_id)
    if district is not None and district["events_cursor"] is None and cursor is not None:
        values["events_cursor"] = cursor  # the poller cleared it while this run was under way
    connections.set_status(conn, district_id, "active", **values)
    conn.execute(
        audit_log.insert().values(
            district_id=district_id,
            actor="sync",
            action="sync.succeeded",
            subject=run["id"],
            details={"kind": run["kind"], "drift": drift},
        )
    )
    log.info("sync.succeeded", run_id=run["id"], counters=counters, drift=drift)
    return "succeeded"


def _analyze_bulk_changes(conn: Connection, run_id: str, counters: dict[str, dict[str, int]]) -> None:
    for entity_type, outcome in counters.items():
        table = SYNCED_TABLES.get(entity_type)
        changed = sum(outcome.get(name, 0) for name in _CHANGES)
        if table is not None and analyze_after_bulk_change(conn, table, changed):
            log.info("sync.statistics_refreshed", run_id=run_id, table=table.name, rows_changed=changed)


def resolve_held_run(rt: Runtime, run_id: str, *, approve: bool, actor: str) -> str:
    """An admin's decision on a held run: apply its deactivations, or discard them."""
    with rt.engine.begin() as conn:
        run = runs.get_run(conn, run_id, for_update=True)
        if run is None:
            raise LookupError(run_id)
        if run["status"] != "held":
            raise ValueError(f"run is {run['status']}, not held")
        conn.execute(
            audit_log.insert().values(
                district_id=run["district_id"],
                actor=actor,
                action="sync.approved" if approve else "sync.discarded",
                subject=run_id,
                details={},
            )
        )
        if not approve:
            runs.finish_run(conn, run_id, "discarded")
            forget_run(conn, run_id)
            return "discarded"
        counters = dict(run["counters"] or {})
        return _complete(rt, conn, run, counters, dict(run["held_plan"] or {}))
