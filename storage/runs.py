"""Sync runs: their lifecycle, ingest checkpoint and counters."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, select, update

from rostersync.metrics import record
from storage.tables import districts, processed_messages, sync_runs

ACTIVE_STATUSES = ("queued", "running")
FINISHED_STATUSES = ("succeeded", "failed", "discarded", "cancelled")


def now() -> datetime:
    return datetime.now(UTC)


def create_run(
    conn: Connection, district_id: str, *, kind: str, generation: int, requested_by: str | None
) -> str:
    run_id = str(uuid.uuid4())
    conn.execute(
        sync_runs.insert().values(
            id=run_id,
            district_id=district_id,
            kind=kind,
            status="queued",
            generation=generation,
            requested_by=requested_by,
            queued_at=now(),
        )
    )
    conn.execute(update(districts).where(districts.c.id == district_id).values(current_run_id=run_id))
    return run_id


def get_run(conn: Connection, run_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(sync_runs).where(sync_runs.c.id == run_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return row._mapping if row else None


def run_progress(conn: Connection, run_id: str) -> RowMapping | None:
    """Status and page counts of a run, without the checkpoint and counters every page would
    otherwise read and decode."""
    query = select(
        sync_runs.c.id,
        sync_runs.c.district_id,
        sync_runs.c.status,
        sync_runs.c.ingest_done,
        sync_runs.c.pages_published,
        sync_runs.c.crawl_token,
        sync_runs.c.crawl_starts,
    ).where(sync_runs.c.id == run_id)
    row = conn.execute(query).first()
    return row._mapping if row else None


def active_run(conn: Connection, district_id: str) -> RowMapping | None:
    """The run in progress for a district, if any (a run held for review is not in progress)."""
    query = (
        select(sync_runs)
        .where(sync_runs.c.district_id == district_id, sync_runs.c.status.in_(ACTIVE_STATUSES))
        .order_by(sync_runs.c.queued_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return row._mapping if row else None


def held_run(conn: Connection, district_id: str) -> RowMapping | None:
    """The district's newest run held for review by the deletion guard, if any."""
    query = (
        select(sync_runs)
        .where(sync_runs.c.district_id == district_id, sync_runs.c.status == "held")
        .order_by(sync_runs.c.queued_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return row._mapping if row else None


def latest_run(conn: Connection, district_id: str) -> RowMapping | None:
    query = (
        select(sync_runs)
        .where(sync_runs.c.district_id == district_id)
        .order_by(sync_runs.c.queued_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return row._mapping if row else None


def update_run(conn: Connection, run_id: str, **values: Any) -> None:
    values.setdefault("heartbeat_at", now())
    conn.execute(update(sync_runs).where(sync_runs.c.id == run_id).values(**values))


def start_crawl(conn: Connection, run_id: str) -> int:
    """Take the run's next crawl token and record the checkpoint rank the crawl starts from.

    The increment is one statement, so two crawlers starting at once get different tokens even
    where rows cannot be locked beforehand (SQLite); it also holds the row until commit."""
    row = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(crawl_token=sync_runs.c.crawl_token + 1, heartbeat_at=now())
        .returning(sync_runs.c.crawl_token, sync_runs.c.checkpoint_rank, sync_runs.c.crawl_starts)
    ).one()
    token = int(row.crawl_token)
    starts = {**(row.crawl_starts or {}), str(token): int(row.checkpoint_rank)}
    conn.execute(update(sync_runs).where(sync_runs.c.id == run_id).values(crawl_starts=starts))
    return token


def save_checkpoint(conn: Connection, run_id: str, token: int, rank: int, **values: Any) -> bool:
    """Store a crawler's checkpoint; False (nothing written) when its token is no longer the
    run's or the stored checkpoint is further along than `rank`."""
    values.setdefault("heartbeat_at", now())
    result = conn.execute(
        update(sync_runs)
        .where(
            sync_runs.c.id == run_id,
            sync_runs.c.crawl_token == token,
            sync_runs.c.checkpoint_rank <= rank,
        )
        .values(checkpoint_rank=rank, **values)
    )
    return result.rowcount == 1


def update_for_crawler(conn: Connection, run_id: str, token: int, **values: Any) -> bool:
    """Update the run only while `token` is its current crawl token."""
    values.setdefault("heartbeat_at", now())
    result = conn.execute(
        update(sync_runs).where(sync_runs.c.id == run_id, sync_runs.c.crawl_token == token).values(**values)
    )
    return result.rowcount == 1


def crawl_token(conn: Connection, run_id: str) -> int | None:
    value = conn.execute(select(sync_runs.c.crawl_token).where(sync_runs.c.id == run_id)).scalar()
    return None if value is None else int(value)


def last_activity(conn: Connection, run: RowMapping) -> datetime:
    """When the run last moved: its own heartbeat, or the last page applied."""
    applied = conn.execute(
        select(func.max(processed_messages.c.processed_at)).where(processed_messages.c.run_id == run["id"])
    ).scalar()
    moments = [m for m in (run["heartbeat_at"], applied, run["queued_at"]) if m is not None]
    return max(aware(m) for m in moments)


def aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; everything is stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def discard_held_runs(conn: Connection, district_id: str, *, reason: str) -> int:
    result = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.district_id == district_id, sync_runs.c.status == "held")
        .values(status="discarded", finished_at=now(), error=reason)
    )
    return int(result.rowcount)


def abandon_active_runs(conn: Connection, reason: str) -> int:
    """Fail every queued or running run (their messages are known to be gone)."""
    result = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.status.in_(ACTIVE_STATUSES))
        .values(status="failed", finished_at=now(), error=reason)
    )
    conn.execute(update(districts).where(districts.c.status == "syncing").values(status="active"))
    return int(result.rowcount)


def finish_run(conn: Connection, run_id: str, status: str, **values: Any) -> bool:
    """Move a run to a final status once; False if it was already finished."""
    kind = conn.execute(
        update(sync_runs)
        .where(and_(sync_runs.c.id == run_id, sync_runs.c.status.not_in(FINISHED_STATUSES)))
        .values(status=status, finished_at=now(), **values)
        .returning(sync_runs.c.kind)
    ).scalar_one_or_none()
    if kind is None:
        return False
    # Counted before the commit: a transaction that then fails is rare, and one run too many
    # on a counter is better than a metrics call in every caller.
    record.run_finished(kind, status)
    return True


def page_totals(conn: Connection, run_id: str) -> tuple[int, dict[str, dict[str, int]]]:
    """How many pages of a run were applied, and their counters summed per entity type."""
    rows = conn.execute(
        select(processed_messages.c.counters).where(
            processed_messages.c.run_id == run_id, processed_messages.c.kind == "page"
        )
    ).all()
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (counters,) in rows:
        for entity_type, outcome in (counters or {}).items():
            for name, value in outcome.items():
                totals[entity_type][name] += value
    return len(rows), {k: dict(v) for k, v in totals.items()}


def pages_applied(conn: Connection, run_id: str) -> int:
    query = select(func.count()).where(
        processed_messages.c.run_id == run_id, processed_messages.c.kind == "page"
    )
    return int(conn.execute(query).scalar_one())


def list_runs(conn: Connection, district_id: str, *, limit: int = 20, offset: int = 0) -> list[RowMapping]:
    query = (
        select(sync_runs)
        .where(sync_runs.c.district_id == district_id)
        .order_by(sync_runs.c.queued_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return [row._mapping for row in conn.execute(query)]
