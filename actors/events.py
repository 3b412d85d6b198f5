"""events queue: apply Clever events one at a time, and poll Clever's Events API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dramatiq

from actors.policy import retry_transient
from domain.events import InvalidEvent
from messaging import queues
from rostersync.runtime import runtime
from services.apply_event import apply_event as apply_event_service
from services.events_poller import poll_district


@dramatiq.actor(
    queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient, throws=(InvalidEvent,)
)
def apply_event(*, event: Mapping[str, Any], source: str = "webhook") -> None:
    apply_event_service(runtime(), event, source=source)


@dramatiq.actor(queue_name=queues.queue_name(queues.EVENTS), retry_when=retry_transient)
def poll_events(*, district_id: str) -> None:
    poll_district(runtime(), district_id)
