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


# The worker's threads share one transaction per batch of events instead of one per event; a
# leader waits up to 3 ms for as many events as the last batch had (16 threads under load: about
# 12 events a commit instead of 8).
_events = GroupCommit(_apply_batch, linger=0.003)


@dramatiq.actor(
    queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient, throws=(InvalidEvent,)
)
def apply_event(*, event: Mapping[str, Any], source: str = "webhook") -> None:
    # Parsed here, so a malformed event fails its own message and never a batch.
    _events.submit(SourcedEvent(parse_event(event), source))


@dramatiq.actor(queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient)
def poll_events(*, district_id: str) -> None:
    poll_district(runtime(), district_id)
