"""Gauges read from the database when the scheduler is scraped: what alerts need to see
whichever process did the work, and that outlives any process's counters.

Two cheap queries per scrape: one over the districts table (with, per district, an index
probe into its newest runs) and one count on the failed-messages status index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Row, func, select
from sqlalchemy.exc import SQLAlchemyError

from storage import runs
from storage.tables import districts, failed_messages, sync_runs

log = structlog.get_logger(__name__)

CONNECTION_STATUSES = ("connecting", "active", "syncing", "needs_reauth", "disconnected")
RUN_STATUSES = ("queued", "running", "held", "succeeded", "failed", "discarded", "cancelled")
FULL_KINDS = ("full", "reconcile", "reconnect")  # every kind of run that reconciles the district
# How far back the last reconcile is looked for: far beyond the alert's 26 hours, and it keeps
# the probe on the newest runs of each district.
RECONCILE_WINDOW = timedelta(days=7)
_WATCHED = ("active", "syncing")  # connections the scheduler keeps reconciling and polling


class DeploymentState(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> Iterable[Metric]:
        return list(_families())

    def collect(self) -> Iterable[Metric]:
        connections, latest_runs, reconciled, cursor_lag, up, waiting = _families()
        now = runs.now()
        try:
            rows, waiting_count = self._read(now)
        except SQLAlchemyError as exc:
            log.warning("metrics.state_unreadable", error_type=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        by_status = Counter(row.status for row in rows)
        for status in (*CONNECTION_STATUSES, *sorted(set(by_status) - set(CONNECTION_STATUSES))):
            connections.add_metric([status], by_status.get(status, 0))
        newest = Counter(row.latest for row in rows if row.latest and row.status != "disconnected")
        for status in (*RUN_STATUSES, *sorted(set(newest) - set(RUN_STATUSES))):
            latest_runs.add_metric([status], newest.get(status, 0))
        for row in rows:
            if row.status not in _WATCHED:
                continue
            last = row.last_reconciled or row.connected_at
            if last is not None:
                reconciled.add_metric([row.id], runs.aware(last).timestamp())
            if row.events_cursor_at is not None:
                lag = (now - runs.aware(row.events_cursor_at)).total_seconds()
                cursor_lag.add_metric([row.id], max(lag, 0.0))
        waiting.add_metric([], waiting_count)
        up.add_metric([], 1)
        yield from (connections, latest_runs, reconciled, cursor_lag, up, waiting)

    def _read(self, now: datetime) -> tuple[list[Row[Any]], int]:
        newest_run = (
            select(sync_runs.c.status)
            .where(sync_runs.c.district_id == districts.c.id)
            .order_by(sync_runs.c.queued_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        last_reconciled = (
            select(func.max(sync_runs.c.finished_at))
            .where(
                sync_runs.c.district_id == districts.c.id,
                sync_runs.c.queued_at >= now - RECONCILE_WINDOW,
                sync_runs.c.status == "succeeded",
                sync_runs.c.kind.in_(FULL_KINDS),
            )
            .scalar_subquery()
        )
        query = select(
            districts.c.id,
            districts.c.status,
            districts.c.connected_at,
            districts.c.events_cursor_at,
            newest_run.label("latest"),
            last_reconciled.label("last_reconciled"),
        )
        waiting = select(func.count()).where(failed_messages.c.status == "waiting")
        with self._engine.connect() as conn:
            return list(conn.execute(query)), int(conn.execute(waiting).scalar_one())


def _families() -> Iterator[GaugeMetricFamily]:
    yield GaugeMetricFamily("rostersync_connections", "District connections, by status.", labels=["status"])
    yield GaugeMetricFamily(
        "rostersync_districts_latest_run",
        "Connected districts by the status of their newest sync run (held: waiting for review).",
        labels=["status"],
    )
    yield GaugeMetricFamily(
        "rostersync_last_reconcile_timestamp_seconds",
        "When each active district's last full sync or nightly reconcile succeeded (unix time; "
        "when it connected, if none has within a week).",
        labels=["district_id"],
    )
    yield GaugeMetricFamily(
        "rostersync_events_cursor_lag_seconds",
        "Seconds since the events poller last brought each active district's cursor up to date.",
        labels=["district_id"],
    )
    yield GaugeMetricFamily(
        "rostersync_state_up", "1 when the database could be read for these gauges, else 0."
    )
    yield GaugeMetricFamily(
        "rostersync_failed_messages_waiting",
        "Failed messages waiting for an operator to replay or drop them.",
    )
