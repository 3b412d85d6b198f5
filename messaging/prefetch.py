"""How many messages a worker process holds unacknowledged per queue (WORKER_PREFETCH).

Dramatiq prefetches twice as many messages as the worker has threads. That suits work done a
thread per message. A batched actor's threads only hand messages in (see messaging.batching), so
what decides how many events wait while a batch commits is the prefetch, not the threads: the
events worker runs with few threads and a deep prefetch. 0 keeps Dramatiq's default."""

from __future__ import annotations

from typing import Any

import dramatiq

from rostersync.settings import MAX_PREFETCH


class Prefetch(dramatiq.Middleware):
    def __init__(self, prefetch: int) -> None:
        if not 0 <= prefetch <= MAX_PREFETCH:
            raise ValueError(f"prefetch must be from 0 to {MAX_PREFETCH}, not {prefetch}")
        self.prefetch = prefetch

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        # Read by the worker when it opens each queue's consumer, right after this hook.
        if self.prefetch:
            worker.queue_prefetch = self.prefetch
