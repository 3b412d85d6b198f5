"""`POST /webhooks/clever`: signed Clever-shaped events in, one `apply_event` message each out.

Checks run cheapest first and nothing is published until the whole request is valid: 415 wrong
type, 413 too big, 401 bad signature (also when no secret is configured: nobody can be
authenticated), 400 malformed or too deeply nested JSON, 422 an event that does not parse, whose id
is dated in the future (CLOCK_SKEW_SECONDS) or whose object no row could hold (an over-long id or
field, a NUL). Event ids are lower-cased before publishing. Student and contact events
are dropped here and counted. 202 only once RabbitMQ confirmed every message; otherwise 503 +
Retry-After. The batch's events are published concurrently, so after a 503 some may have been
confirmed and will be applied: a sender that retries loses nothing and applies nothing twice
(events are deduplicated downstream by id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.events import CleverEvent, InvalidEvent, is_private, parse_event, wire_event
from domain.positions import is_from_future, is_position
from gateway.errors import ApiError
from gateway.inputs import decode_json, is_json_content_type, read_capped
from gateway.publishing import publish_all
from gateway.storable_events import unstorable_reason
from gateway.webhook_signature import HEADER, BadSignature, Sender, verify
from rostersync.runtime import Runtime
from services.apply_event import district_of

log = structlog.get_logger(__name__)


def parse_batch(body: Any, sender: Sender | None = None) -> tuple[list[CleverEvent], int]:
    """(events to publish, how many private ones were dropped); raises a 422 ApiError, or a 403
    when a secret bound to a district signed an event of another (the whole batch is refused)."""
    raw_events = body if isinstance(body, list) else [body]
    kept: list[CleverEvent] = []
    dropped = 0
    for index, raw in enumerate(raw_events):
        try:
            event = parse_event(raw)
        except InvalidEvent as exc:
            raise ApiError(422, f"event {index}: {exc}") from None
        refusal = sender.refusal(district_of(event)) if sender is not None else None
        if refusal is not None:
            raise ApiError(403, f"event {index}: {refusal}")
        if is_private(event):
            dropped += 1
        else:
            kept.append(event)
    return kept, dropped


def admit(events: Sequence[CleverEvent], *, now: datetime, skew_seconds: float) -> list[CleverEvent]:
    """The events, each object's own Clever id lower-cased (`parse_event` lower-cases event ids);
    raises a 422 ApiError for an id from the future or an object no row could hold."""
    admitted = []
    for event in events:
        event_id = event.id
        if is_from_future(event_id, now, skew_seconds):
            ahead = f"its id is dated more than {skew_seconds:g} s ahead of now"
            raise ApiError(422, f"event {event_id}: {ahead}")
        reason = unstorable_reason(event)
        if reason is not None:
            raise ApiError(422, f"event {event_id}: {reason}")
        obj = event.object
        if is_position(obj["id"]):
            obj = {**obj, "id": obj["id"].lower()}
        admitted.append(dataclasses.replace(event, object=obj))
    return admitted


def routes(rt: Runtime) -> list[Route]:
    async def receive(request: Request) -> Response:
        if not is_json_content_type(request.headers.get("content-type")):
            raise ApiError(415, "Content-Type must be application/json")
        raw = await read_capped(request, rt.settings.webhook_max_body_bytes)
        try:
            sender = verify(request.headers.get(HEADER), raw, rt.settings.webhook_secrets)
        except BadSignature as exc:
            log.warning("webhook.rejected", reason=str(exc))
            raise ApiError(401, str(exc)) from None
        try:
            events, dropped = parse_batch(decode_json(raw), sender)
            events = admit(events, now=datetime.now(UTC), skew_seconds=rt.settings.clock_skew_seconds)
        except ApiError as exc:
            log.warning("webhook.rejected", status=exc.status, reason=exc.reason)
            raise
        # Concurrently, each awaiting its own confirm; 202 once all are confirmed.
        await publish_all(
            rt, [("events", "apply_event", {"event": wire_event(e), "source": "webhook"}) for e in events]
        )
        request.state.log_fields = {"accepted": len(events), "dropped": dropped}  # on the request's line
        # Rendered by orjson: the standard library's encoder was a tenth of the webhook's own work.
        answer = orjson.dumps({"accepted": len(events), "dropped": dropped})
        return Response(answer, status_code=202, media_type="application/json")

    return [Route("/webhooks/clever", receive, methods=["POST"])]
