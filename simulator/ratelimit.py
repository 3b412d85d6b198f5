"""Clever's per-bearer-token rate limit: N requests per fixed window, counter resets at the window end."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix epoch seconds when the window resets

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Bucket": "bearer",
        }


class RateLimiter:
    def __init__(
        self, limit: int = 1200, window: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # token -> (window start, count)
        self._lock = threading.Lock()

    def configure(self, limit: int | None = None, window: float | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = int(limit)
            if window is not None:
                self.window = float(window)
            self._windows.clear()  # new settings start fresh windows

    def hit(self, token: str) -> RateDecision:
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(token, (now, 0))
            if now >= start + self.window:
                start, count = now, 0
            count += 1
            self._windows[token] = (start, count)
            reset = math.ceil(start + self.window)
            allowed = count <= self.limit
            return RateDecision(allowed, self.limit, max(0, self.limit - count), reset)
