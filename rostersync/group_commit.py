"""Group commit across a worker's threads: many small messages, few transactions.

Each worker thread hands in its item and waits. A thread that finds nobody applying becomes
the leader: it applies everything waiting in one call; once its own item is done it hands the
lead to a waiting thread, or stops when nothing is left. Under load the batches grow on their
own (up to the number of threads); when idle an item is applied at once, with no wait for
company.

Under load a batch that just ended lets its threads go to fetch their next messages; the next
leader then waits a moment (at most `linger` seconds) for as many items as the last batch had,
instead of running the few that happened to be there first and leaving the rest for the next
round trip. When idle the last batch was small and nothing waits.

A batch that fails is applied again one item at a time, so each thread gets its own item's
result or exception, and Dramatiq retries or dead-letters only the message that failed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("error", "finished", "item", "result", "woken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.woken = threading.Event()
        self.finished = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def finish(self, result: R | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, True
        self.woken.set()


class GroupCommit(Generic[T, R]):
    def __init__(
        self, apply_batch: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int = 64, linger: float = 0.0
    ) -> None:
        self._apply_batch = apply_batch
        self._max_batch = max_batch
        self._linger = linger
        self._previous = 0  # the size of the last batch applied
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._waiting: list[_Slot[T, R]] = []
        self._leader: _Slot[T, R] | None = None  # the item whose thread leads; None: nobody

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            if self._leader is None:
                self._leader = slot
            self._arrived.notify()
        while not slot.finished:
            if self._leader is slot:
                self._lead(slot)
                continue
            try:
                slot.woken.wait()
            except BaseException:  # interrupted while waiting (a time limit): leave cleanly
                self._leave(slot)
                raise
            slot.woken.clear()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # set whenever error is not

    def _hand_over_locked(self) -> None:
        """Make the first waiting item's thread the leader, or nobody when none waits."""
        self._leader = self._waiting[0] if self._waiting else None
        if self._leader is not None:
            self._leader.woken.set()

    def _leave(self, slot: _Slot[T, R]) -> None:
        with self._lock:
            if slot in self._waiting:
                self._waiting.remove(slot)
            if self._leader is slot:
                self._hand_over_locked()

    def _gather_locked(self) -> None:
        """Under load, wait a moment for as many items as the last batch had."""
        wanted = min(self._previous, self._max_batch)
        if self._linger > 0 and 0 < len(self._waiting) < wanted:
            self._arrived.wait_for(lambda: len(self._waiting) >= wanted, timeout=self._linger)

    def _lead(self, own: _Slot[T, R]) -> None:
        batch: list[_Slot[T, R]] = []
        try:
            while True:
                with self._lock:
                    if own.finished and self._waiting:
                        # Hand over: this thread's message waits for its ack until it stops leading.
                        self._hand_over_locked()
                        return
                    self._gather_locked()
                    batch = self._waiting[: self._max_batch]
                    del self._waiting[: self._max_batch]
                    if not batch:
                        self._leader = None
                        return
                    self._previous = len(batch)
                self._run(batch)
        except BaseException:
            # Interrupted (a time limit raised in this thread): this thread's own item fails
            # with it; hand back the others it had not finished and let a waiting thread lead,
            # so nobody waits forever.
            with self._lock:
                self._waiting[:0] = [s for s in batch if not s.finished and s is not own]
                if own in self._waiting:
                    self._waiting.remove(own)
                self._hand_over_locked()
            raise

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self._apply_batch([slot.item for slot in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].finish(error=exc)
                return
            for slot in batch:  # find the item that failed; the others succeed on their own
                self._run([slot])
            return
        for slot, result in zip(batch, results, strict=True):
            slot.finish(result)
