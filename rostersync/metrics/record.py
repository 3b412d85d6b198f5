"""What the services record, one call per page, batch or run (never per row)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from domain.positions import is_position, position_seconds
from rostersync.metrics import series

EVENT_SOURCES = frozenset({"webhook", "poll"})


def entities_written(entity_type: str, counters: Mapping[str, int]) -> None:
    """A page's counters (created, updated, unchanged, ...) or a run's deactivations."""
    for outcome, count in counters.items():
        if count:
            series.ENTITIES.labels(entity_type, outcome).inc(count)


def events_handled(handled: Iterable[tuple[str, str, str]], now: datetime) -> None:
    """(event id, source, outcome) of a batch; an applied event's lag is now minus the time
    its id was made (Clever ids start with their unix second). Counted per label, not per
    event: a labelled child is looked up under a lock."""
    counts: Counter[tuple[str, str]] = Counter()
    lags: dict[str, list[float]] = defaultdict(list)
    now_seconds = now.timestamp()
    for event_id, source, outcome in handled:
        label = source if source in EVENT_SOURCES else "other"  # a label from a message stays bounded
        counts[label, outcome] += 1
        if outcome == "applied" and is_position(event_id):
            lags[label].append(max(now_seconds - position_seconds(event_id), 0.0))
    # Lags first: whoever reads an applied event's count then finds its lag too.
    for label, seconds in lags.items():
        histogram = series.EVENT_LAG.labels(label)
        for lag in seconds:
            histogram.observe(lag)
    for (label, outcome), count in counts.items():
        series.EVENTS.labels(label, outcome).inc(count)


def run_finished(kind: str, outcome: str) -> None:
    series.RUNS_FINISHED.labels(kind, outcome).inc()


def scheduler_tick(enqueued: Mapping[str, int] | None) -> None:
    """A scheduler pass: what it enqueued, or None when it failed."""
    series.SCHEDULER_TICKS.labels("failed" if enqueued is None else "ok").inc()
    for what, count in (enqueued or {}).items():
        if count:
            series.SCHEDULER_ENQUEUED.labels(what).inc(count)
