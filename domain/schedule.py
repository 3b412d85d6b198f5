"""When a district's nightly reconcile is due: a local time of day in the district's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_local_time(value: str) -> time:
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def next_local_occurrence(after: datetime, at: time, timezone: str) -> datetime:
    """The first moment strictly after `after` when the district's clock shows `at` (in UTC)."""
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(UTC)


def local_date_of(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()
