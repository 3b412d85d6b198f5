"""ingest queue: sync requests, and the crawl of Clever for a run."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog

from actors.policy import retry_transient
from clever_client.errors import CleverError, CleverUnavailable, NeedsReauth
from messaging import queues
from rostersync.runtime import runtime
from services import ingest
from services.run_failures import fail_run, gave_up
from services.sync_requests import SyncRefused
from services.sync_requests import request_sync as request_sync_service

log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=queues.queue_name(queues.INGEST), max_retries=3)
def request_sync(*, district_id: str, kind: str = "full", requested_by: str = "internal") -> None:
    """The contract for internal services: publish this to start (or join) a district's sync."""
    try:
        ticket = request_sync_service(runtime(), district_id, kind=kind, requested_by=requested_by)
    except (SyncRefused, ValueError) as exc:
        log.warning("sync.request_refused", district_id=district_id, reason=str(exc))
        return
    log.info("sync.request_accepted", district_id=district_id, run_id=ticket.run_id, new=ticket.created)


@dramatiq.actor(
    queue_name=queues.queue_name(queues.INGEST),
    retry_when=retry_transient,
    on_retry_exhausted="sync_gave_up",
    time_limit=6 * 60 * 60 * 1000,
)
def ingest_run(*, district_id: str, run_id: str, generation: int) -> None:
    rt = runtime()
    try:
        ingest.ingest_run(rt, run_id, generation)
    except NeedsReauth as exc:
        fail_run(rt, run_id, exc, needs_reauth=True)
    except CleverUnavailable:
        raise  # retried with backoff; the checkpoint makes the retry resume
    except CleverError as exc:
        fail_run(rt, run_id, exc)


@dramatiq.actor(queue_name=queues.queue_name(queues.INGEST), max_retries=3)
def sync_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    kwargs = message.get("kwargs") or {}
    if "run_id" in kwargs:
        # The cause in words travels in the options (messaging.retry_policy), not only a traceback.
        cause = (message.get("options") or {}).get("failure_cause")
        fail_run(runtime(), kwargs["run_id"], gave_up(int(retry_info.get("retries") or 0), cause))
