"""Figures of one sync run read back from PostgreSQL: phases, counters, pages, apply window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, func, select, text

from bench.infra import ENTITY_TABLES
from bench.stats import rate
from storage.tables import processed_messages

OUTCOMES = ("created", "updated", "unchanged", "restored", "deactivated", "outdated", "stale")


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _gap(later: datetime | None, earlier: float | None) -> float | None:
    stamp = _ts(later)
    return round(stamp - earlier, 3) if stamp is not None and earlier is not None else None


def counter_totals(run: RowMapping) -> dict[str, int]:
    counters = run["counters"] or {}
    return {name: sum(int(c.get(name, 0)) for c in counters.values()) for name in OUTCOMES}


def entity_counts(engine: Engine, district_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(
                conn.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE district_id = :d'), {"d": district_id}
                ).scalar_one()
            )
            for table in ENTITY_TABLES
        }


def sync_figures(engine: Engine, run: RowMapping, clicked_at: float) -> dict[str, Any]:
    """Wall time from the click (or request) to the run's end, split into phases, and rates."""
    with engine.connect() as conn:
        first, last, pages = conn.execute(
            select(
                func.min(processed_messages.c.processed_at),
                func.max(processed_messages.c.processed_at),
                func.count(),
            ).where(processed_messages.c.run_id == run["id"], processed_messages.c.kind == "page")
        ).one()
    totals = counter_totals(run)
    written = totals["created"] + totals["updated"] + totals["restored"]
    seen = written + totals["unchanged"]
    wall = _gap(run["finished_at"], clicked_at) or 0.0
    apply_window = (last - first).total_seconds() if first and last else 0.0
    return {
        "status": run["status"],
        "kind": run["kind"],
        "wall_seconds": wall,
        "phases_seconds": {
            "until_queued": _gap(run["queued_at"], clicked_at),
            "queued_to_started": _gap(run["started_at"], _ts(run["queued_at"])),
            "started_to_ingest_done": _gap(run["ingest_finished_at"], _ts(run["started_at"])),
            "ingest_done_to_finished": _gap(run["finished_at"], _ts(run["ingest_finished_at"])),
        },
        "counters": totals,
        "rows_written": written,
        "entities_seen": seen,
        "pages_published": int(run["pages_published"]),
        "pages_applied": int(pages),
        "apply_window_seconds": round(apply_window, 3),
        "rows_per_s_wall": rate(seen, wall),
        "apply_rows_per_s": rate(seen, apply_window),
    }
