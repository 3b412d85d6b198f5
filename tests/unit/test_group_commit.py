"""Group commit with real threads: one call per batch, failures isolated to their own item,
and an interrupted leader hands over instead of leaving anyone waiting."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from rostersync.group_commit import GroupCommit


class Interrupted(BaseException):
    """What a time limit raises inside a worker thread."""


def test_an_item_alone_is_applied_at_once() -> None:
    calls: list[list[int]] = []

    def apply(batch: Sequence[int]) -> list[int]:
        calls.append(list(batch))
        return [n * 10 for n in batch]

    assert GroupCommit(apply).submit(4) == 40
    assert calls == [[4]]


class Batches:
    """The function under test's batches go to: records each batch (and which thread ran it),
    holds the first one until `release` is set, and fails or is interrupted where told."""

    def __init__(self, *, scale: int = 1, fail_on: int | None = None, interrupt_first: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.leaders: list[str] = []
        self.started, self.release = threading.Event(), threading.Event()
        self.scale, self.fail_on, self.interrupt_first = scale, fail_on, interrupt_first

    def __call__(self, batch: Sequence[int]) -> list[int]:
        self.calls.append(list(batch))
        self.leaders.append(threading.current_thread().name)
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(10)
            if self.interrupt_first:
                raise Interrupted
        if self.fail_on in batch:
            raise ValueError(f"item {self.fail_on} is malformed")
        return [n * self.scale for n in batch]


def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("timed out")


def recording_submit(group: GroupCommit[int, int], outcomes: dict[int, object]) -> Callable[[int], None]:
    def submit(n: int) -> None:
        try:
            outcomes[n] = group.submit(n)
        except Interrupted:
            outcomes[n] = "interrupted"

    return submit


def test_items_arriving_while_a_batch_runs_go_together_in_the_next_one() -> None:
    apply = Batches(scale=10)
    group = GroupCommit(apply)
    with ThreadPoolExecutor(max_workers=6) as pool:
        leader = pool.submit(group.submit, 0)
        assert apply.started.wait(10)
        followers = [pool.submit(group.submit, n) for n in range(1, 6)]
        wait_for(lambda: len(group._waiting) == 5)  # all five queued behind the running batch
        apply.release.set()
        assert leader.result(10) == 0
        assert [f.result(10) for f in followers] == [10, 20, 30, 40, 50]
    assert apply.calls == [[0], [1, 2, 3, 4, 5]]


def test_after_a_batch_of_several_the_next_leader_waits_for_as_many_items() -> None:
    apply = Batches()
    group = GroupCommit(apply, linger=600)  # long enough that only the items' arrival ends it
    with ThreadPoolExecutor(max_workers=5) as pool:
        first = pool.submit(group.submit, 0)
        assert apply.started.wait(10)
        pair = [pool.submit(group.submit, n) for n in (1, 2)]
        wait_for(lambda: len(group._waiting) == 2)
        apply.release.set()
        assert first.result(10) == 0 and [f.result(10) for f in pair] == [1, 2]
        third = pool.submit(group.submit, 3)  # alone, after a batch of two: its leader waits
        wait_for(lambda: len(group._arrived._waiters) == 1)  # type: ignore[attr-defined]
        fourth = pool.submit(group.submit, 4)
        assert third.result(10) == 3 and fourth.result(10) == 4
    assert apply.calls == [[0], [1, 2], [3, 4]]


def test_an_item_after_idle_time_does_not_wait_for_company() -> None:
    apply = Batches()
    apply.release.set()
    group = GroupCommit(apply, linger=600)
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(group.submit, 7).result(30) == 7
    assert apply.calls == [[7]]


def test_a_failing_item_fails_alone_and_the_rest_of_its_batch_succeeds() -> None:
    apply = Batches(fail_on=3)
    group = GroupCommit(apply)
    with ThreadPoolExecutor(max_workers=5) as pool:
        leader = pool.submit(group.submit, 0)
        assert apply.started.wait(10)
        others = {n: pool.submit(group.submit, n) for n in range(1, 5)}
        wait_for(lambda: len(group._waiting) == 4)
        apply.release.set()
        assert leader.result(10) == 0
        assert [others[n].result(10) for n in (1, 2, 4)] == [1, 2, 4]
        with pytest.raises(ValueError, match="item 3"):
            others[3].result(10)
    assert apply.calls == [[0], [1, 2, 3, 4], [1], [2], [3], [4]]


def test_an_interrupted_leader_hands_the_waiting_items_to_a_follower() -> None:
    apply = Batches(interrupt_first=True)
    group = GroupCommit(apply)
    outcomes: dict[int, object] = {}
    submit = recording_submit(group, outcomes)
    threads = [threading.Thread(target=submit, args=(0,))]
    threads[0].start()
    assert apply.started.wait(10)
    threads += [threading.Thread(target=submit, args=(n,)) for n in (1, 2)]
    for thread in threads[1:]:
        thread.start()
    wait_for(lambda: len(group._waiting) == 2)
    apply.release.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    assert outcomes[0] == "interrupted"
    assert outcomes[1] == 1 and outcomes[2] == 2
    # The interrupted item is left to its own message's retry; the others are applied once.
    assert apply.calls == [[0], [1, 2]]


def test_a_leader_whose_item_is_done_hands_the_lead_on() -> None:
    # Under steady load one thread must not lead forever: its own message waits for its ack.
    apply = Batches()
    group = GroupCommit(apply)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="w") as pool:
        first = pool.submit(group.submit, 0)
        assert apply.started.wait(10)
        later = [pool.submit(group.submit, n) for n in (1, 2)]
        wait_for(lambda: len(group._waiting) == 2)
        apply.release.set()
        assert first.result(10) == 0 and [f.result(10) for f in later] == [1, 2]
    assert len(apply.leaders) == 2 and apply.leaders[0] != apply.leaders[1]


def test_a_thread_interrupted_while_waiting_leaves_without_stalling_the_others() -> None:
    apply = Batches()
    group = GroupCommit(apply)
    outcomes: dict[int, object] = {}
    submit = recording_submit(group, outcomes)
    leader = threading.Thread(target=submit, args=(0,))
    leader.start()
    assert apply.started.wait(10)
    follower = threading.Thread(target=submit, args=(1,))
    follower.start()
    wait_for(lambda: len(group._waiting) == 1)
    # What Dramatiq's time limit does: an exception raised in the thread when it next runs,
    # here as it wakes to take over the lead.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(follower.ident or 0), ctypes.py_object(Interrupted)
    )
    apply.release.set()
    for thread in (leader, follower):
        thread.join(10)
        assert not thread.is_alive()
    assert outcomes == {0: 0, 1: "interrupted"}
    assert group.submit(2) == 2, "nobody is left holding the lead"
    assert apply.calls == [[0], [2]]
