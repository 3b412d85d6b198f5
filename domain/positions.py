"""Source positions: where in Clever's history a row's content came from.

A position is a 24-hex-digit string, compared as text. Clever ObjectIDs (event ids included) are
positions: their first 8 hex digits are unix seconds, and event ids increase with event order. A
full sync has no event id of its own, so it gets a synthetic position from the time it started:
that second followed by zeros, which sorts before every real id created in or after that second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

_POSITION = re.compile(r"^[0-9a-f]{24}$")
_MAX_SECONDS = 0xFFFFFFFF
# How far ahead of this machine's clock a position may be (CLOCK_SKEW_SECONDS overrides it).
DEFAULT_CLOCK_SKEW_SECONDS = 300.0


def is_position(value: object) -> bool:
    """True for a 24-hex-digit string (either case)."""
    return isinstance(value, str) and bool(_POSITION.match(value.lower()))


def normalize_position(value: str) -> str:
    """Lower-cased position; ValueError when it is not 24 hex digits."""
    if not is_position(value):
        raise ValueError(f"not a source position: {value!r}")
    return value.lower()


def position_from_time(dt: datetime) -> str:
    """Synthetic position for a moment: ``'%08x' % unix_seconds + '0' * 16``.

    ``dt`` must be timezone-aware (a naive time would silently depend on the host's zone). Use
    the moment *before* the fetch starts, so events created while it runs sort after it.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("position_from_time needs a timezone-aware datetime")
    seconds = int(dt.timestamp() // 1)
    if not 0 <= seconds <= _MAX_SECONDS:
        raise ValueError(f"time out of range for a position: {dt.isoformat()}")
    return f"{seconds:08x}" + "0" * 16


def position_seconds(position: str) -> int:
    """The unix second a position (real or synthetic) was made in."""
    return int(normalize_position(position)[:8], 16)


def position_time(position: str) -> datetime:
    """The UTC second a position (real or synthetic) was made in."""
    return datetime.fromtimestamp(position_seconds(position), tz=UTC)


def future_bound(now: datetime, skew_seconds: float) -> str:
    """The newest position that is not from the future: every id made up to ``now`` plus the
    allowed clock skew sorts at or before it, any later one after it."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("future_bound needs a timezone-aware datetime")
    seconds = min(max(int((now.timestamp() + skew_seconds) // 1), 0), _MAX_SECONDS)
    return f"{seconds:08x}" + "f" * 16


def is_from_future(position: str, now: datetime, skew_seconds: float) -> bool:
    """True when ``position`` was made more than ``skew_seconds`` after ``now``: a clock that
    ran ahead, or a forged id. Such a position must never order anything."""
    return normalize_position(position) > future_bound(now, skew_seconds)


def is_newer_or_same(incoming: str | None, stored: str | None) -> bool:
    """May content from ``incoming`` overwrite content stored from ``stored``?

    Nothing stored yet → yes. An unknown incoming position cannot displace a known one → no.
    Equal positions → yes (a redelivery; the content hash then decides whether to write).
    """
    if stored is None:
        return True
    if incoming is None:
        return False
    return incoming.lower() >= stored.lower()


def max_position(*positions: str | Iterable[str | None] | None) -> str | None:
    """The newest of the given positions (arguments or iterables of them), ignoring None."""
    flat: list[str] = []
    for item in positions:
        if item is None:
            continue
        if isinstance(item, str):
            flat.append(item.lower())
        else:
            flat.extend(p.lower() for p in item if p is not None)
    return max(flat, default=None)
