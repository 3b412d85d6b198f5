"""Fetch the next page while the caller works on the current one.

A crawl alternates between waiting for Clever (and parsing what it sends) and publishing what
it got; reading one page ahead in a thread overlaps the two. At most one page waits ready, so
memory stays at two pages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


def read_ahead(pages: Iterator[T], prepare: Callable[[T], U]) -> Iterator[U]:
    """`prepare(page)` for each page, computed one page ahead in a background thread.

    An exception from fetching or preparing is raised here, in order. Leaving the loop early
    stops the thread before this generator returns, so nothing uses the client afterwards.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(value: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not offer(prepare(page)):
                    return
        except BaseException as exc:
            offer(exc)
            return
        offer(_DONE)

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            value = ready.get()
            if value is _DONE:
                return
            if isinstance(value, BaseException):
                raise value
            yield cast(U, value)  # everything else came from prepare()
    finally:
        stop.set()
        thread.join()
