"""Once a worker process has booted (modules, actors, engine and broker loaded), the collector is
settled: what was loaded is frozen out of its walks and the young generation collected less often
(`rostersync.collector`). Without it every full collection walked several hundred thousand
long-lived objects while holding the GIL, pausing every thread."""

from __future__ import annotations

from typing import Any

import dramatiq

from rostersync import collector


class FrozenHeap(dramatiq.Middleware):
    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        collector.settle()
