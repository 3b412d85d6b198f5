"""The in-process broker's worker: the demo and an embedded gateway process their own messages."""

from __future__ import annotations

import dramatiq
import structlog

from rostersync.runtime import Runtime

log = structlog.get_logger(__name__)


class EmbeddedWorker:
    def __init__(self, broker: dramatiq.Broker, threads: int = 4) -> None:
        self._worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)

    @classmethod
    def start_if_embedded(cls, rt: Runtime) -> EmbeddedWorker | None:
        if not rt.settings.embedded_broker:
            return None
        from rostersync.bootstrap import ensure_broker

        broker = ensure_broker()
        import actors  # noqa: F401  (declares the actors on the in-process broker)
        from storage.runs import abandon_active_runs

        with rt.engine.begin() as conn:
            # The in-process broker keeps nothing across restarts: runs it was carrying are gone.
            abandon_active_runs(conn, "interrupted: the in-process broker stopped with the process")
        worker = cls(broker)
        worker._worker.start()
        log.info("embedded_worker.started")
        return worker

    def stop(self) -> None:
        self._worker.stop()
