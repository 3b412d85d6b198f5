"""A worker process settles the collector once it has booted: what it loaded is frozen, so full
passes no longer walk modules, actors and pools, and the young generation is collected less
often."""

from __future__ import annotations

import gc

import dramatiq
from dramatiq.brokers.stub import StubBroker

from messaging.frozen_heap import FrozenHeap
from rostersync import collector


def test_booting_a_worker_freezes_the_loaded_objects_and_raises_the_young_threshold() -> None:
    # Another test may have booted a worker in this process already: start from the defaults.
    gc.unfreeze()
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    broker = StubBroker(middleware=[FrozenHeap()])
    worker = dramatiq.Worker(broker, worker_threads=1)
    assert gc.get_freeze_count() == 0
    worker.start()
    try:
        assert gc.get_freeze_count() > 10_000  # this test process's modules, at the least
        assert gc.get_threshold() == (
            collector.YOUNG_THRESHOLD,
            collector.MIDDLE_THRESHOLD,
            collector.OLD_THRESHOLD,
        )
    finally:
        worker.stop()
        gc.unfreeze()
        gc.set_threshold(*before)
