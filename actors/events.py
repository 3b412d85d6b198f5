"""events queue: apply Clever events (several at once when they arrive together), and poll
Clever's Events API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dramatiq

from actors.policy import retry_transient
from domain.events import InvalidEvent, parse_event
from messaging import queues
from messaging.batching import Outcome
from rostersync.runtime import runtime
from services.apply_event import SourcedEvent, apply_events
from services.events_poller import poll_district


def _sourced(*, event: Mapping[str, Any], source: str = "webhook") -> SourcedEvent:
    return SourcedEvent(parse_event(event), source)


def _apply_together(calls: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """The waiting events in one transaction (see messaging.batching). Each is parsed alone, so
    a malformed event fails its own message and never the batch."""
    outcomes: list[Outcome] = [None] * len(calls)
    parsed: list[SourcedEvent] = []
    for index, kwargs in enumerate(calls):
        try:
            parsed.append(_sourced(**kwargs))
        except (InvalidEvent, TypeError) as exc:  # TypeError: arguments the actor does not take
            outcomes[index] = exc
    if parsed:
        apply_events(runtime(), parsed)
    return outcomes


@dramatiq.actor(
    queue_name=queues.queue_name(queues.EVENTS),
    retry_when=retry_transient,
    throws=(InvalidEvent,),
    batch=_apply_together,
)
def apply_event(*, event: Mapping[str, Any], source: str = "webhook") -> None:
    apply_events(runtime(), [_sourced(event=event, source=source)])


@dramatiq.actor(queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient)
def poll_events(*, district_id: str) -> None:
    poll_district(runtime(), district_id)
