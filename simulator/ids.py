"""Deterministic 24-hex ids shaped like MongoDB ObjectIDs, as Clever uses them.

Layout: 8 hex unix seconds | 10 hex "machine" part | 6 hex counter. Because the timestamp leads, ids sort
by creation time, which is what Clever's ascending-id pagination and event cursors rely on.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable


def machine_part(*parts: object) -> str:
    """10 hex chars derived from ``parts`` so different districts/seeds never collide."""
    raw = "|".join(str(p) for p in parts).encode()
    return hashlib.sha1(raw).hexdigest()[:10]


def make_id(timestamp: int, machine: str, counter: int) -> str:
    return f"{timestamp & 0xFFFFFFFF:08x}{machine}{counter & 0xFFFFFF:06x}"


def id_timestamp(object_id: str) -> int:
    """Unix seconds encoded in the first 8 hex characters."""
    return int(object_id[:8], 16)


class SeededIds:
    """Ids for generated data: fixed base time, one counter, so output depends only on the seed."""

    def __init__(self, base_timestamp: int, machine: str) -> None:
        self._ts = base_timestamp
        self._machine = machine
        self._counter = 0

    def next(self) -> str:
        self._counter += 1
        # Advance the clock every 4096 ids so timestamps look like a real import run.
        return make_id(self._ts + (self._counter >> 12), self._machine, self._counter)


class LiveIds:
    """Ids for objects/events created while the simulator runs: leading hex = current unix seconds.

    Strictly increasing even if the wall clock goes backwards or many ids are minted in the same second.
    """

    def __init__(self, machine: str, clock: Callable[[], float] = time.time, floor: str = "") -> None:
        self._machine = machine
        self._clock = clock
        self._last = floor
        self._counter = 0
        self._lock = threading.Lock()

    def bump_floor(self, existing_id: str) -> None:
        """Make sure future ids sort after ``existing_id``."""
        with self._lock:
            if existing_id > self._last:
                self._last = existing_id

    def next(self) -> str:
        with self._lock:
            self._counter += 1
            candidate = make_id(int(self._clock()), self._machine, self._counter)
            if candidate <= self._last:
                # Same second (or clock skew): keep the last timestamp, raise the counter part.
                ts = id_timestamp(self._last)
                last_counter = int(self._last[18:], 16)
                self._counter = max(self._counter, last_counter + 1)
                candidate = make_id(ts, self._machine, self._counter)
                if candidate <= self._last:
                    candidate = make_id(ts + 1, self._machine, self._counter)
            self._last = candidate
            return candidate
