"""Fault injection for data-API responses: latency, random 5xx answers, stalls. Seeded, so repeatable."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)


@dataclass(frozen=True)
class FaultDecision:
    delay_seconds: float  # latency + stall, slept before answering
    status: int | None  # forced error status, or None to answer normally


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = ERROR_STATUSES
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    seed: int = 0
    # Deterministic queue of forced statuses for the next requests (e.g. [503, 503] = next two fail).
    fail_next: list[int] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def configure(self, **settings: Any) -> None:
        """Update any of the public fields; ``seed`` re-seeds the RNG. Unknown keys raise ``TypeError``."""
        with self._lock:
            for key, value in settings.items():
                if key.startswith("_") or key not in self.__dataclass_fields__:
                    raise TypeError(f"unknown fault setting {key!r}")
                if key == "error_statuses":
                    value = tuple(int(v) for v in value)
                elif key == "fail_next":
                    value = [int(v) for v in value]
                elif key != "seed":
                    value = float(value)
                setattr(self, key, value)
            if "seed" in settings:
                self._rng.seed(int(self.seed))

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "error_statuses": list(self.error_statuses),
            "stall_rate": self.stall_rate,
            "stall_seconds": self.stall_seconds,
            "seed": self.seed,
            "fail_next": list(self.fail_next),
        }

    def decide(self) -> FaultDecision:
        with self._lock:
            delay = self.latency_ms / 1000.0
            # Always draw both numbers so one setting does not shift the other's random sequence.
            stall_roll, error_roll = self._rng.random(), self._rng.random()
            if stall_roll < self.stall_rate:
                delay += self.stall_seconds
            status: int | None = None
            if self.fail_next:
                status = self.fail_next.pop(0)
            elif error_roll < self.error_rate:
                status = self._rng.choice(self.error_statuses)
            return FaultDecision(delay, status)
