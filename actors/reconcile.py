"""reconcile queue: finish runs (deletions behind the guard, schedules, counters)."""

from __future__ import annotations

import dramatiq

from actors.policy import retry_transient
from messaging import queues
from rostersync.runtime import runtime
from services.finish_run import finish_run as finish_run_service
from services.lifecycle import purge_district as purge_service


@dramatiq.actor(queue_name=queues.queue_name(queues.RECONCILE), retry_when=retry_transient)
def finish_run(*, district_id: str, run_id: str, generation: int) -> None:
    finish_run_service(runtime(), run_id, generation)


@dramatiq.actor(queue_name=queues.queue_name(queues.RECONCILE), retry_when=retry_transient)
def purge_district(*, district_id: str, requested_by: str) -> None:
    purge_service(runtime(), district_id, actor=requested_by)
