"""Pull a district's deltas from Clever's Events API into the events queue.

The cursor moves only after RabbitMQ confirmed every event of the page (publisher confirms
make `publish` return only then). A cursor Clever no longer knows, or events turned off for
the app, schedule a full sync instead. An event whose id says it was made more than
CLOCK_SKEW_SECONDS from now is skipped with a warning: its id would order every later change
behind it. The cursor never moves onto such an id, so polling goes on from the last good one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from clever_client.errors import CleverForbidden, CleverNotFound, NeedsReauth
from domain.events import RECORD_TYPES_USED, InvalidEvent, is_private, parse_event, wire_event
from domain.positions import is_from_future
from rostersync.runtime import Runtime
from services.district_tokens import open_api
from services.sync_requests import SyncRefused, request_sync
from storage import connections, runs

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PollResult:
    published: int = 0
    skipped_future: int = 0  # events whose id is from the future


def poll_district(rt: Runtime, district_id: str) -> PollResult:
    """Publish the district's new events; says how many were published and skipped."""
    with rt.engine.connect() as conn:
        district = connections.get_district(conn, district_id)
    if district is None or district["status"] not in ("active", "syncing"):
        return PollResult()
    cursor = district["events_cursor"]
    if cursor is None:
        return PollResult()  # no full sync has recorded a position yet; the first one will
    published = skipped_future = 0
    try:
        with open_api(rt, district_id) as api:
            for page in api.iter_events(cursor or None, RECORD_TYPES_USED):
                for raw in page.items:
                    try:
                        event = parse_event(raw)
                    except InvalidEvent as exc:
                        log.warning("poll.invalid_event", district_id=district_id, reason=str(exc))
                        continue
                    if is_from_future(event.id, datetime.now(UTC), rt.settings.clock_skew_seconds):
                        log.warning("poll.event_from_the_future", district_id=district_id, event_id=event.id)
                        skipped_future += 1
                        continue
                    if not is_private(event):
                        # The parsed form: a section's students never reach RabbitMQ.
                        rt.publish("events", "apply_event", {"event": wire_event(event), "source": "poll"})
                        published += 1
                    cursor = event.id
                with rt.engine.begin() as conn:
                    connections.update_district(
                        conn, district_id, events_cursor=cursor, events_cursor_at=runs.now()
                    )
    except CleverNotFound:
        _resync(rt, district_id, "the events cursor is unknown to Clever (older than 30 days?)")
    except CleverForbidden:
        _resync(rt, district_id, "events are turned off for this app")
    except NeedsReauth:
        log.warning("poll.needs_reauth", district_id=district_id)
    if published or skipped_future:
        log.info("poll.published", district_id=district_id, events=published, skipped_future=skipped_future)
    return PollResult(published, skipped_future)


def _resync(rt: Runtime, district_id: str, reason: str) -> None:
    log.warning("poll.full_sync_instead", district_id=district_id, reason=reason)
    with rt.engine.begin() as conn:
        connections.update_district(conn, district_id, events_cursor=None)
    try:
        request_sync(rt, district_id, kind="full", requested_by="events-poller")
    except SyncRefused as exc:
        log.info("poll.resync_refused", district_id=district_id, reason=str(exc))
