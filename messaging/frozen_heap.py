"""Once a worker process has booted (modules, actors, engine and broker loaded), its objects live
as long as the process: `gc.freeze()` moves them out of the cyclic collector's sight, so a full
collection walks only what the work itself allocated. Without it every full collection walked
several hundred thousand long-lived objects while holding the GIL, pausing every thread."""

from __future__ import annotations

import gc
from typing import Any

import dramatiq


class FrozenHeap(dramatiq.Middleware):
    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        gc.freeze()
