"""The database pool's use, from SQLAlchemy's pool events: a gauge step per checkout and
checkin (one per transaction, never per row), so the hot paths pay next to nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from rostersync.metrics import series


def instrument_pool(engine: Engine) -> Engine:
    pool = engine.pool
    if isinstance(pool, QueuePool):
        # QueuePool keeps its overflow limit private; -1 means unlimited, counted as none.
        series.DB_POOL_CAPACITY.inc(pool.size() + max(int(getattr(pool, "_max_overflow", 0)), 0))
    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "connect", _opened)
    event.listen(engine, "close", _closed)
    event.listen(engine, "close_detached", _closed_detached)
    return engine


def _checked_out(*_: Any) -> None:
    series.DB_POOL_CHECKED_OUT.inc()


def _checked_in(*_: Any) -> None:
    series.DB_POOL_CHECKED_OUT.dec()


def _opened(*_: Any) -> None:
    series.DB_POOL_OPEN.inc()


def _closed(*_: Any) -> None:
    series.DB_POOL_OPEN.dec()


def _closed_detached(*_: Any) -> None:
    series.DB_POOL_OPEN.dec()
