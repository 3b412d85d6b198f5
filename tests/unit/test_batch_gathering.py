"""Who leads a batch and what it takes: the gathering of one batched actor's messages."""

from __future__ import annotations

import threading
import time

from messaging.batching import Gathering


def gathering(*, concurrency: int = 1, max_batch: int = 3, linger: float = 0.0) -> Gathering[str]:
    return Gathering(concurrency=concurrency, max_batch=max_batch, linger=linger)


def test_the_first_message_leads_and_the_next_ones_wait_for_it() -> None:
    g = gathering()
    assert g.hand_in("m1") is True
    assert g.hand_in("m2") is False
    assert g.next_batch() == ["m1", "m2"]
    assert g.next_batch() == []  # nothing left: it leads no longer
    assert g.hand_in("m3") is True


def test_a_batch_takes_at_most_max_batch_in_arrival_order() -> None:
    g = gathering()
    for n in range(5):
        g.hand_in(f"m{n}")
    assert g.next_batch() == ["m0", "m1", "m2"]
    assert g.next_batch() == ["m3", "m4"]
    assert g.next_batch() == []


def test_two_leaders_when_two_batches_may_run_at_once() -> None:
    g = gathering(concurrency=2)
    assert [g.hand_in(m) for m in ("a", "b", "c")] == [True, True, False]
    assert g.next_batch() == ["a", "b", "c"]
    assert g.next_batch() == []  # one leader steps down
    assert g.hand_in("d") is True  # a place was free again


def test_under_load_a_leader_waits_a_moment_for_as_many_as_the_last_batch_had() -> None:
    g = gathering(linger=600.0)  # long enough that only the arrivals end the wait
    for m in ("a", "b", "c"):
        g.hand_in(m)
    assert g.next_batch() == ["a", "b", "c"]
    g.hand_in("d")
    late = threading.Timer(0.05, lambda: [g.hand_in(m) for m in ("e", "f")])
    late.start()
    assert g.next_batch() == ["d", "e", "f"]
    late.join()


def test_the_wait_ends_after_linger_with_what_came() -> None:
    g = gathering(linger=0.05)
    for m in ("a", "b", "c"):
        g.hand_in(m)
    g.next_batch()
    g.hand_in("d")
    began = time.monotonic()
    assert g.next_batch() == ["d"]
    assert time.monotonic() - began >= 0.04


def test_a_lone_message_of_an_idle_actor_never_waits() -> None:
    g = gathering(linger=600.0)
    g.hand_in("a")
    assert g.next_batch() == ["a"]  # no previous batch: nothing to wait for


def test_every_message_handed_in_by_many_threads_is_taken_once() -> None:
    g = gathering(max_batch=7, linger=0.001)
    taken: list[str] = []
    lock = threading.Lock()

    def hand_in(name: str) -> None:
        if g.hand_in(name):
            while batch := g.next_batch():
                with lock:
                    taken.extend(batch)

    threads = [threading.Thread(target=hand_in, args=(f"m{n}",)) for n in range(400)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(f"m{n}" for n in range(400))
    assert g.hand_in("after") is True  # every leader stepped down
