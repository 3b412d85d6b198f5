"""After a run under faults: compare the database with the simulator (the source of truth), and
read the workers' logs and the checkpoint history for crawls that overlapped or went backwards.

Every finding is a plain string in one of six lists of a `FaultReport`; all must stay empty.
The expected values are written out from the Clever objects here, not taken from the mapping.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, text

from services.resources import FULL_SYNC_ORDER
from storage.tables import classrooms, courses, staff_users, tenants, terms

STAFF_ROLES = ("district_admin", "staff", "teacher")
TABLE_OF = {
    "schools": tenants,
    "users": staff_users,
    "sections": classrooms,
    "terms": terms,
    "courses": courses,
}


@dataclass
class FaultReport:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unapplied: list[str] = field(default_factory=list)
    concurrent_crawlers: list[str] = field(default_factory=list)
    checkpoint_regressions: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    CHECKS = ("lost", "duplicated", "extra", "unapplied", "concurrent_crawlers", "checkpoint_regressions")

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.CHECKS}

    def failing(self) -> list[str]:
        return [name for name, count in self.counts().items() if count]

    def __str__(self) -> str:
        lines = ["fault report: " + ", ".join(f"{name}={count}" for name, count in self.counts().items())]
        lines += [f"  {name}: {value}" for name, value in self.figures.items()]
        for name in self.CHECKS:
            for finding in getattr(self, name)[:20]:  # the first few say enough
                lines.append(f"  [{name}] {finding}")
        return "\n".join(lines)


# ---------------------------------------------------------------- the database against Clever


def expected_ids(snapshot: dict[str, Any]) -> dict[str, set[str]]:
    """Clever ids per resource that must have an active row (staff only; the district is a tenant)."""
    staff = {u["id"] for u in snapshot["users"] if set(u.get("roles") or {}) & set(STAFF_ROLES)}
    return {
        "schools": {s["id"] for s in snapshot["schools"]} | {snapshot["district"]["id"]},
        "users": staff,
        "sections": {s["id"] for s in snapshot["sections"]},
        "terms": {t["id"] for t in snapshot["terms"]},
        "courses": {c["id"] for c in snapshot["courses"]},
    }


def _rows(conn: Connection, table: Table, district_id: str) -> list[Any]:
    return list(conn.execute(select(table).where(table.c.district_id == district_id)))


def compare_with_clever(
    engine: Engine, district_id: str, snapshot: dict[str, Any], report: FaultReport
) -> dict[str, list[Any]]:
    """Lost, duplicated and extra entities; returns the district's rows per resource."""
    wanted = expected_ids(snapshot)
    rows: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for resource, table in TABLE_OF.items():
            rows[resource] = _rows(conn, table, district_id)
            by_id: dict[str, list[Any]] = defaultdict(list)
            for row in rows[resource]:
                # Ids differing only by case are one Clever object stored twice.
                by_id[row.clever_id.lower()].append(row)
            active = {cid for cid, found in by_id.items() if any(r.active for r in found)}
            for cid in sorted(wanted[resource] - active):
                state = "inactive" if cid in by_id else "missing"
                report.lost.append(f"{resource} {cid}: in Clever, {state} in the database")
            for cid in sorted(active - wanted[resource]):
                report.extra.append(f"{resource} {cid}: active in the database, not in Clever")
            for cid, found in sorted(by_id.items()):
                if len(found) > 1:
                    report.duplicated.append(f"{resource} {cid}: {len(found)} rows")
    report.figures["entities_in_clever"] = {k: len(v) for k, v in wanted.items()}
    return rows


def newest_events(events: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest event sent per (resource, id): ids order Clever's changes."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        resource = event["type"].split(".", 1)[0]
        key = (resource, event["data"]["object"]["id"])
        if key not in newest or event["id"] > newest[key]["id"]:
            newest[key] = event
    return newest


def _expected_fields(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    if resource == "users":
        name = obj.get("name") or {}
        return {
            "first_name": name.get("first"),
            "last_name": name.get("last"),
            "email": obj.get("email") or None,
        }
    if resource == "sections":
        return {"name": obj.get("name"), "period": obj.get("period") or None}
    if resource in ("schools", "terms", "courses"):
        return {"name": obj.get("name")}
    return {}


def check_events_applied(
    rows: dict[str, list[Any]], events: Sequence[dict[str, Any]], report: FaultReport
) -> None:
    """Every entity an event touched holds its newest version: gone after a delete, else the
    newest object's fields (students and contacts are not stored, so not checked)."""
    stored = {(resource, r.clever_id): r for resource, found in rows.items() for r in found}
    newest = newest_events(events)
    for (resource, cid), event in sorted(newest.items()):
        if resource not in TABLE_OF:
            continue
        obj = event["data"]["object"]
        if resource == "users" and not set(obj.get("roles") or {}) & set(STAFF_ROLES):
            continue
        row = stored.get((resource, cid))
        if event["type"].endswith(".deleted"):
            if row is not None and row.active:
                report.unapplied.append(f"{resource} {cid}: deleted by {event['id']}, still active")
            continue
        if row is None or not row.active:
            report.unapplied.append(f"{resource} {cid}: {event['type']} {event['id']}, no active row")
            continue
        differs = {
            column: (getattr(row, column), value)
            for column, value in _expected_fields(resource, obj).items()
            if getattr(row, column) != value
        }
        if differs:
            report.unapplied.append(
                f"{resource} {cid}: newest {event['id']} not stored; (stored, sent) {differs}"
            )
    report.figures["entities_touched_by_events"] = len(newest)


# ---------------------------------------------------------------- crawlers, from the workers' logs

CRAWL_STARTS = frozenset({"ingest.started"})
# A crawler stops when it finishes, hands on, finds a newer crawler started (fenced), or fails.
CRAWL_ENDS = frozenset(
    {"ingest.finished", "ingest.continues_in_new_message", "ingest.rate_limit_hand_off", "ingest.superseded"}
)


def _is_crawl_end(line: dict[str, Any]) -> bool:
    event = str(line.get("event", ""))
    return event in CRAWL_ENDS or event.startswith("Failed to process message")


def _token(line: dict[str, Any]) -> int | None:
    value = line.get("crawl_token", line.get("token"))
    return None if value is None else int(value)


def read_log_lines(paths: Iterable[Path]) -> list[tuple[str, int, dict[str, Any]]]:
    """(file, line number, the JSON line) of every ingest line, in time order across files;
    each file ends with a marker, since the process it logged may have been killed."""
    found: list[tuple[str, str, int, dict[str, Any]]] = []
    for path in paths:
        last_stamp = ""
        for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # a traceback or a line cut by SIGKILL
            if not isinstance(line, dict):
                continue
            last_stamp = str(line.get("timestamp", last_stamp))
            if line.get("run_id") and (
                line.get("actor") == "ingest_run" or str(line.get("event", "")).startswith("ingest.")
            ):
                found.append((last_stamp, str(path), number, line))
        found.append((last_stamp, str(path), 10**9, {"event": "process.ended"}))
    found.sort(key=lambda item: (item[0], item[1], item[2]))
    return [(name, number, line) for _, name, number, line in found]


def check_crawlers(log_paths: Iterable[Path], report: FaultReport) -> None:
    """Two crawlers of one run working at the same time, from the `ingest.started` lines.

    Without a fencing token, a crawler counts as open from its start until it finishes, hands
    on, fails or its process ends, and a second start while one is open is a finding. With a
    token, a newer crawler may start while an older one runs (the older stops at its next
    check), so each start must carry a newer token than the last; whether a stale crawler still
    wrote is read from the checkpoint history (`check_checkpoints`).
    """
    open_crawlers: dict[tuple[str, str], int] = defaultdict(int)  # (file, run) -> open crawls
    newest_token: dict[str, int] = {}
    starts = 0
    for name, number, line in read_log_lines(log_paths):
        if line.get("event") == "process.ended":
            for key in [k for k in open_crawlers if k[0] == name]:
                del open_crawlers[key]
            continue
        run_id, event, token = str(line["run_id"]), str(line.get("event", "")), _token(line)
        where = f"{Path(name).name}:{number}"
        if event in CRAWL_STARTS:
            starts += 1
            others = sum(count for (_, run), count in open_crawlers.items() if run == run_id)
            if token is None and others:
                report.concurrent_crawlers.append(
                    f"run {run_id}: a crawler started at {where} while {others} other(s) crawled"
                )
            if token is not None and token <= newest_token.get(run_id, 0):
                report.concurrent_crawlers.append(
                    f"run {run_id}: a crawler started at {where} with token {token}, "
                    f"not newer than {newest_token[run_id]}"
                )
            open_crawlers[(name, run_id)] += 1
            if token is not None:
                newest_token[run_id] = max(newest_token.get(run_id, 0), token)
        if _is_crawl_end(line) and open_crawlers.get((name, run_id)):
            open_crawlers[(name, run_id)] -= 1
    report.figures["crawler_starts_logged"] = starts


def check_resources_done_once(log_paths: Iterable[Path], report: FaultReport) -> None:
    """A resource is finished once per run, whatever was killed: a second `resource_done`
    means two crawlers both got to its end."""
    seen: dict[tuple[str, str], str] = {}
    for name, number, line in read_log_lines(log_paths):
        if line.get("event") != "ingest.resource_done":
            continue
        key = (str(line["run_id"]), str(line.get("resource")))
        where = f"{Path(name).name}:{number}"
        if key in seen:
            report.concurrent_crawlers.append(f"run {key[0]}: {key[1]} finished twice ({seen[key]}, {where})")
        seen[key] = where


# ---------------------------------------------------------------- checkpoints, every write recorded

AUDIT_TABLE = "fault_checkpoint_audit"


def install_checkpoint_audit(engine: Engine) -> None:
    """Record every change of a run's checkpoint, in the order the row was written, with the
    whole row (and so its crawl token, where runs have one). A trigger, because sampling could
    miss a step back that is overwritten at once."""
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {AUDIT_TABLE}"))
        conn.execute(
            text(
                f"CREATE TABLE {AUDIT_TABLE} "
                "(seq bigserial PRIMARY KEY, run_id text NOT NULL, run jsonb NOT NULL)"
            )
        )
        conn.execute(
            text(
                f"CREATE OR REPLACE FUNCTION {AUDIT_TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN INSERT INTO {AUDIT_TABLE} (run_id, run) VALUES (NEW.id, to_jsonb(NEW)); "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER {AUDIT_TABLE} AFTER UPDATE ON sync_runs FOR EACH ROW "
                "WHEN (OLD.checkpoint::jsonb IS DISTINCT FROM NEW.checkpoint::jsonb) "
                f"EXECUTE FUNCTION {AUDIT_TABLE}()"
            )
        )


def remove_checkpoint_audit(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {AUDIT_TABLE} ON sync_runs"))
        conn.execute(text(f"DROP FUNCTION IF EXISTS {AUDIT_TABLE}()"))
        conn.execute(text(f"DROP TABLE IF EXISTS {AUDIT_TABLE}"))


RESOURCE_ORDER = {resource.key: index for index, resource in enumerate(FULL_SYNC_ORDER)}


def checkpoint_place(checkpoint: dict[str, Any]) -> tuple[int, int, int]:
    """Where a crawl stands: resource, pages done in it, whether it is finished."""
    resource = checkpoint.get("resource")
    if resource is None:
        return (-1, 0, 0)
    return (
        RESOURCE_ORDER.get(resource, -1),
        int(checkpoint.get("page_no", 0)),
        int(bool(checkpoint.get("done"))),
    )


def check_checkpoints(engine: Engine, report: FaultReport) -> None:
    """Checkpoints that went backwards, and checkpoints written by a crawler whose token a newer
    crawler had already replaced (two crawlers at work)."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT run_id, run FROM {AUDIT_TABLE} ORDER BY seq")).all()
    furthest: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
    newest_token: dict[str, int] = {}
    for run_id, run in rows:
        checkpoint, token = run.get("checkpoint") or {}, run.get("crawl_token")
        if token is not None:
            if int(token) < newest_token.get(run_id, 0):
                report.concurrent_crawlers.append(
                    f"run {run_id}: checkpoint written under token {token} after token {newest_token[run_id]}"
                )
            newest_token[run_id] = max(newest_token.get(run_id, 0), int(token))
        place = checkpoint_place(checkpoint)
        best = furthest.get(run_id)
        if best is not None and place < best[0]:
            was = best[1]
            report.checkpoint_regressions.append(
                f"run {run_id}: {was.get('resource')} page {was.get('page_no')} -> "
                f"{checkpoint.get('resource')} page {checkpoint.get('page_no')}"
            )
            continue
        furthest[run_id] = (place, checkpoint)
    report.figures["checkpoint_writes"] = len(rows)
