"""Waiting in tests for what another thread or process does: poll until it is true, with a bound
that only ends a hung test (never a speed assertion)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WAIT_LIMIT = 60.0


def wait_until(
    predicate: Callable[[], Any], what: str = "condition", *, timeout: float = WAIT_LIMIT, every: float = 0.05
) -> Any:
    """The predicate's first truthy value; AssertionError naming `what` once `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
    return value
