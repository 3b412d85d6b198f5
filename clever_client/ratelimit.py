"""Per-token rate-limit bookkeeping from Clever's ``X-RateLimit-*`` headers (1200 requests/minute)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping

from rostersync.metrics import series

# Clever documents no Retry-After; without a reset header wait one full window.
DEFAULT_429_WAIT = 60.0
# A reset further away than this is clock skew or a bad header: never park a worker longer.
MAX_RESET_WAIT = 120.0
# Integers below this are "seconds from now", not a Unix epoch (defensive; Clever sends epochs).
_EPOCH_THRESHOLD = 1_000_000_000


def parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def parse_reset(value: str | None, now: float) -> float | None:
    """``X-RateLimit-Reset`` as an absolute epoch time, or None when absent/garbled."""
    number = parse_int(value)
    if number is None or number < 0:
        return None
    return float(number) if number >= _EPOCH_THRESHOLD else now + number


def parse_retry_after(value: str | None) -> float | None:
    """Only the delta-seconds form; an HTTP date here is rare enough to fall back to the default."""
    number = parse_int(value)
    return float(number) if number is not None and number >= 0 else None


class RateLimiter:
    """Remembers until when the current window is exhausted; shared by every request of one client."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[float, float], float] = random.uniform,
        max_wait: float = MAX_RESET_WAIT,
        default_429_wait: float = DEFAULT_429_WAIT,
    ) -> None:
        self._clock = clock
        self._jitter = jitter
        self._max_wait = max_wait
        self._default_429_wait = default_429_wait
        self._lock = threading.Lock()
        # An absolute clock time rather than the reset header, so a skewed reset cannot block forever.
        self._blocked_until = 0.0

    def _until_reset(self, headers: Mapping[str, str], now: float) -> float | None:
        reset = parse_reset(headers.get("x-ratelimit-reset"), now)
        if reset is None:
            return None
        return min(max(reset - now, 0.0), self._max_wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record a response's headers (a non-429 response)."""
        remaining = parse_int(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return
        series.CLEVER_RATE_LIMIT_REMAINING.set(remaining)
        now = self._clock()
        with self._lock:
            if remaining > 0:
                self._blocked_until = 0.0
                return
            wait = self._until_reset(headers, now)
            if wait is not None:
                self._blocked_until = now + wait + self._jitter(0.0, 0.25)

    def delay_before_request(self) -> float:
        """Seconds to sleep before sending, 0 when the window has budget left."""
        with self._lock:
            return max(self._blocked_until - self._clock(), 0.0)

    def delay_after_429(self, headers: Mapping[str, str]) -> float:
        """Seconds to wait after a 429: until reset plus jitter, else Retry-After, else a full window."""
        now = self._clock()
        wait = self._until_reset(headers, now)
        if wait is None:
            wait = parse_retry_after(headers.get("retry-after"))
        if wait is None:
            wait = self._default_429_wait
        series.CLEVER_RATE_LIMIT_REMAINING.set(0)
        # Jitter keeps many workers on one token from stampeding at the reset second.
        delay = min(wait, self._max_wait) + self._jitter(0.05, 0.5)
        with self._lock:
            self._blocked_until = max(self._blocked_until, now + delay)
        return delay
