"""A worker process freezes what it loaded once it has booted, so the cyclic collector's full
passes no longer walk modules, actors and pools."""

from __future__ import annotations

import gc

import dramatiq
from dramatiq.brokers.stub import StubBroker

from messaging.frozen_heap import FrozenHeap


def test_booting_a_worker_freezes_the_loaded_objects() -> None:
    gc.unfreeze()
    broker = StubBroker(middleware=[FrozenHeap()])
    worker = dramatiq.Worker(broker, worker_threads=1)
    assert gc.get_freeze_count() == 0
    worker.start()
    try:
        assert gc.get_freeze_count() > 10_000  # this test process's modules, at the least
    finally:
        worker.stop()
        gc.unfreeze()
