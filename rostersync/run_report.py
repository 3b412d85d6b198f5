"""`rostersync runs`: sync runs as a plain-text table for operators."""

from __future__ import annotations

from typing import Any, TextIO

from rostersync.runtime import Runtime
from storage import connections, runs


def summarize_counters(counters: dict[str, dict[str, int]]) -> str:
    parts = []
    for entity_type, outcome in sorted(counters.items()):
        changed = {k: v for k, v in outcome.items() if v}
        if changed:
            parts.append(entity_type + " " + " ".join(f"{k}={v}" for k, v in sorted(changed.items())))
    return "; ".join(parts) or "-"


def _duration(run: Any) -> str:
    if run["started_at"] is None or run["finished_at"] is None:
        return "-"
    return f"{(run['finished_at'] - run['started_at']).total_seconds():.1f}s"


def print_runs(rt: Runtime, district_id: str | None, *, limit: int, out: TextIO) -> int:
    with rt.engine.connect() as conn:
        if district_id is None:
            rows = [r for d in connections.list_districts(conn) if (r := runs.latest_run(conn, d["id"]))]
        else:
            if connections.get_district(conn, district_id) is None:
                print(f"unknown district {district_id}", file=out)
                return 1
            rows = runs.list_runs(conn, district_id, limit=limit)
    header = f"{'run':36}  {'district':24}  {'kind':9}  {'status':9}  {'took':>7}  counters"
    print(header, file=out)
    for run in rows:
        print(
            f"{run['id']:36}  {run['district_id']:24}  {run['kind']:9}  {run['status']:9}  "
            f"{_duration(run):>7}  {summarize_counters(run['counters'] or {})}"
            + (f"  error: {run['error']}" if run["error"] else ""),
            file=out,
        )
    return 0
