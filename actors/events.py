"""events queue: apply Clever events (several at once when they arrive together), and poll
Clever's Events API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dramatiq

from actors.policy import retry_transient
from domain.events import InvalidEvent, parse_event
from messaging import queues
from rostersync.group_commit import GroupCommit
from rostersync.runtime import runtime
from services.apply_event import SourcedEvent, apply_events
from services.events_poller import poll_district


def _apply_batch(batch: Sequence[SourcedEvent]) -> list[str]:
    return apply_events(runtime(), batch)


# The worker's threads share one transaction per batch of events instead of one per event; under
# load a leader waits up to 10 ms for as many events as the last batch had. Draining 6,000 queued
# events with 64 threads, 10 ms made batches of 50 on average against 35 with 3 ms, and cost
# about a tenth less CPU an event; an idle worker's lone event never waits.
_events = GroupCommit(_apply_batch, linger=0.010)


@dramatiq.actor(
    queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient, throws=(InvalidEvent,)
)
def apply_event(*, event: Mapping[str, Any], source: str = "webhook") -> None:
    # Parsed here, so a malformed event fails its own message and never a batch.
    _events.submit(SourcedEvent(parse_event(event), source))


@dramatiq.actor(queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient)
def poll_events(*, district_id: str) -> None:
    poll_district(runtime(), district_id)
