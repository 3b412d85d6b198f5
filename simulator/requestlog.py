"""Log of every request the simulator answered (except its own ``/_sim`` control API)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl


class RequestLog:
    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = 200_000) -> None:
        self._entries: list[dict[str, Any]] = []
        self._seq = 0
        self._clock = clock
        self._max = max_entries
        self._lock = threading.Lock()

    def add(
        self,
        method: str,
        path: str,
        query_string: str,
        token: str | None,
        status: int,
        student_objects: int = 0,
    ) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(
                {
                    "seq": self._seq,
                    "time": self._clock(),
                    "method": method,
                    "path": path,
                    # Pairs, not a dict: repeated params (record_type=a&record_type=b) must survive.
                    "query": [list(pair) for pair in parse_qsl(query_string, keep_blank_values=True)],
                    "token": token,
                    "status": status,
                    # Student and contact user objects in the answer (lists, reads and events).
                    "student_objects": student_objects,
                }
            )
            if len(self._entries) > self._max:
                del self._entries[: len(self._entries) - self._max]

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
