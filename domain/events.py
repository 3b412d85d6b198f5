"""Clever events: parse one as it arrives (poller or webhook), and decide whether to keep it.

Wire shape (recorded responses): ``{"id", "type", "created", "data": {"object", "previous_attributes"}}``.
The spec instead puts ``previous_attributes`` beside ``data``; both are read. A list item
(``{"data": <event>, "uri": ...}``) is unwrapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain._coerce import mapping, text
from domain.positions import is_position
from domain.privacy import is_student_or_contact_only, strip_students

RECORD_TYPES_USED: tuple[str, ...] = ("districts", "schools", "terms", "courses", "sections", "users")
V3_RESOURCES: frozenset[str] = frozenset({*RECORD_TYPES_USED, "resources"})
# v1/v2 person types; still parsed so they can be recognised and dropped.
LEGACY_RESOURCES: frozenset[str] = frozenset(
    {"students", "contacts", "studentcontacts", "teachers", "schooladmins", "districtadmins"}
)
PRIVATE_LEGACY_RESOURCES: frozenset[str] = frozenset({"students", "contacts", "studentcontacts"})
ACTIONS: frozenset[str] = frozenset({"created", "updated", "deleted"})

# District fields that change on every nightly Clever sync or that rostersync does not store.
DISTRICT_NOISE_FIELDS: frozenset[str] = frozenset(
    {
        "last_sync", "state", "error", "pause_start", "pause_end", "launch_date", "last_modified",
        "created", "login_methods", "portal_url", "sis_type", "mdr_number", "nces_id",
        "district_contact", "lms_state", "lms_type", "last_attendance_sync",
    }
)  # fmt: skip
SECTION_NOISE_FIELDS: frozenset[str] = frozenset({"students", "last_modified"})


class InvalidEvent(ValueError):
    """An event that cannot be applied; the message says why."""


@dataclass(frozen=True)
class CleverEvent:
    id: str
    resource: str  # "users", "sections", ...
    action: str  # "created" | "updated" | "deleted"
    object: dict[str, Any]
    previous_attributes: dict[str, Any] = field(default_factory=dict)
    created: str | None = None

    @property
    def type(self) -> str:
        return f"{self.resource}.{self.action}"

    @property
    def object_id(self) -> str:
        return str(self.object["id"])


def _unwrap(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = raw.get("data")
    if "type" not in raw and isinstance(inner, Mapping) and "type" in inner:
        return inner
    return raw


def parse_event(raw: Any) -> CleverEvent:
    """Validate and parse one event. Raises ``InvalidEvent`` with the reason when malformed.

    A section's ``students`` array is dropped from both ``object`` and ``previous_attributes``.
    """
    if not isinstance(raw, Mapping):
        raise InvalidEvent(f"event must be a JSON object, got {type(raw).__name__}")
    raw = _unwrap(raw)
    event_id = text(raw.get("id"))
    if event_id is None:
        raise InvalidEvent("event has no id")
    if not is_position(event_id):
        # The id is the event's place in the order of changes; anything else would sort wrongly.
        raise InvalidEvent(f"event id {event_id!r} is not a 24-hex Clever id")
    # One spelling per id: it is the idempotency key and the position, and "ABC" must not be
    # applied again as "abc".
    event_id = event_id.lower()
    event_type = text(raw.get("type"))
    if event_type is None:
        raise InvalidEvent(f"event {event_id} has no type")
    resource, _, action = event_type.partition(".")
    if resource not in V3_RESOURCES | LEGACY_RESOURCES or action not in ACTIONS:
        raise InvalidEvent(f"event {event_id} has unknown type {event_type!r}")
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise InvalidEvent(f"event {event_id} has no data")
    obj = data.get("object")
    if not isinstance(obj, Mapping):
        raise InvalidEvent(f"event {event_id} has no data.object")
    if text(obj.get("id")) is None:
        raise InvalidEvent(f"event {event_id}: object has no id")
    previous = data.get("previous_attributes", raw.get("previous_attributes"))
    if previous is not None and not isinstance(previous, Mapping):
        raise InvalidEvent(f"event {event_id}: previous_attributes is not an object")
    obj_dict, previous_dict = {**obj, "id": text(obj.get("id"))}, dict(previous or {})
    if resource == "sections":
        # Enrolments are student data: gone before the event is published or stored.
        obj_dict, previous_dict = strip_students(obj_dict), strip_students(previous_dict)
    return CleverEvent(
        id=event_id,
        resource=resource,
        action=action,
        object=obj_dict,
        previous_attributes=previous_dict,
        created=text(raw.get("created")),
    )


def is_private(event: CleverEvent) -> bool:
    """Student or contact data: dropped at the gateway/poller, never stored or published."""
    if event.resource in PRIVATE_LEGACY_RESOURCES:
        return True
    return event.resource == "users" and is_student_or_contact_only(event.object)


def is_noise(event: CleverEvent, bell_schedule_field: str | None = None) -> bool:
    """An update that changes nothing rostersync keeps, so it need not be applied.

    * ``sections.updated`` touching only ``students`` (enrolments) or nothing at all (the parsed
      event has already lost ``students``, so both look the same);
    * ``districts.updated`` touching only ``DISTRICT_NOISE_FIELDS`` (``last_sync`` changes nightly).
      ``name`` is never noise. The district tenant keeps its ``ext``, so an ``ext`` change is not
      noise either, except when ``bell_schedule_field`` is given and that key is neither in the
      changed ``ext`` keys nor in the current ``ext`` (Clever's diff may omit a newly added key, so
      a district that carries the field treats every ``ext`` change as real).
    """
    if event.action != "updated":
        return False
    changed = set(event.previous_attributes)
    if event.resource == "sections":
        return changed <= SECTION_NOISE_FIELDS
    if event.resource == "districts":
        if bell_schedule_field and "ext" in changed:
            old_ext = event.previous_attributes.get("ext")
            if (
                isinstance(old_ext, Mapping)
                and bell_schedule_field not in old_ext
                and bell_schedule_field not in mapping(event.object.get("ext"))
            ):
                changed.discard("ext")
        return changed <= DISTRICT_NOISE_FIELDS
    return False


def event_order_key(event: CleverEvent) -> str:
    """Sort key: Clever event ids increase with event order (``created`` is only to the second)."""
    return event.id.lower()


def sort_events(events: Iterable[CleverEvent]) -> list[CleverEvent]:
    """Events oldest first, duplicates (same id) dropped."""
    unique = {event.id.lower(): event for event in events}
    return sorted(unique.values(), key=event_order_key)


def wire_event(event: CleverEvent) -> dict[str, Any]:
    """The event as published to RabbitMQ: Clever's wire shape, unwrapped, without students."""
    return {
        "id": event.id,
        "type": event.type,
        "created": event.created,
        "data": {"object": event.object, "previous_attributes": event.previous_attributes},
    }
