"""`rostersync runs`: sync runs as a plain-text table that fits an 80-column terminal.

One row per run (district, kind, status, start, duration); under it, indented, the run's id,
its counters and its error, wrapped to the width so no line runs past the terminal's edge.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import UTC
from typing import Any, TextIO

from domain.run_counters import documented
from rostersync.cli_failures import CommandFailed
from rostersync.runtime import Runtime
from rostersync.text_table import terminal_width
from storage import connections, runs

INDENT = "    "
HEADER = f"{'district':24}  {'kind':9}  {'status':9}  {'started (UTC)':16}  {'took':>8}"


def summarize_counters(counters: Mapping[str, Mapping[str, int]]) -> str:
    return "; ".join(counter_parts(counters)) or "-"


def counter_parts(counters: Mapping[str, Mapping[str, int]] | None) -> list[str]:
    """One part per entity type with its non-zero outcomes, e.g. `staff created=12 updated=1`,
    under the documented names (an old run's `stale` is `outdated`)."""
    parts = []
    for entity_type, outcome in sorted(documented(counters).items()):
        changed = {k: v for k, v in outcome.items() if v}
        if changed:
            parts.append(entity_type + " " + " ".join(f"{k}={v}" for k, v in sorted(changed.items())))
    return parts


def _duration(run: Any) -> str:
    if run["started_at"] is None or run["finished_at"] is None:
        return "-"
    return f"{(runs.aware(run['finished_at']) - runs.aware(run['started_at'])).total_seconds():.1f}s"


def _started(run: Any) -> str:
    moment = run["started_at"] or run["queued_at"]
    return runs.aware(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def run_lines(run: Any, *, width: int) -> list[str]:
    """The run's row, then its id, counters and error, each line at most `width` long."""
    row = (
        f"{run['district_id'][:24]:24}  {run['kind']:9}  {run['status']:9}  "
        f"{_started(run):16}  {_duration(run):>8}"
    )
    lines = [row.rstrip(), f"{INDENT}run {run['id']}"]
    lines += _packed(counter_parts(run["counters"]), width)
    if run["error"]:
        lines += textwrap.wrap(
            f"error: {run['error']}", width, initial_indent=INDENT, subsequent_indent=INDENT + "  "
        )
    return lines


def _packed(parts: list[str], width: int) -> list[str]:
    """Parts joined with '; ' and broken only between parts (a part longer than a line wraps)."""
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}; {part}" if current else part
        if current and len(INDENT + candidate) > width:
            lines.append(INDENT + current + ";")
            candidate = part
        current = candidate
    if current:
        lines.append(INDENT + current)
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(line, width, subsequent_indent=INDENT + "  ", drop_whitespace=False) or [
            line
        ]
    return [line.rstrip() for line in wrapped]


def print_runs(
    rt: Runtime, district_id: str | None, *, limit: int, out: TextIO, width: int | None = None
) -> int:
    with rt.engine.connect() as conn:
        if district_id is None:
            rows = [r for d in connections.list_districts(conn) if (r := runs.latest_run(conn, d["id"]))]
        else:
            if connections.get_district(conn, district_id) is None:
                raise CommandFailed(f"unknown district {district_id}")
            rows = runs.list_runs(conn, district_id, limit=limit)
    if not rows:
        print("no runs" if district_id else "no districts with runs", file=out)
        return 0
    print(HEADER, file=out)
    for run in rows:
        for line in run_lines(run, width=width or terminal_width()):
            print(line, file=out)
    return 0
