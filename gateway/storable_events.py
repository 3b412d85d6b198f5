"""Would an event's object fit the row it becomes? Checked at the webhook, so an event the worker
could never store is refused with 422 instead of being accepted and then dead-lettered.

The object is mapped exactly as the events worker maps it (without the district's role rules,
which change no stored length), and each string field is compared with its column's length.
NUL characters and lone surrogates were already refused when the body was decoded.

Mapping costs more than the rest of a webhook's checks together, and nearly every object fits at
a glance: a mapped field holds one of the object's own values (stripped) or an enum member that
fits its column. So when no value in the object is longer than the shortest column its text may
land in, it fits, and it is mapped only when some value is that long.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from typing import Any

from sqlalchemy import String, Table

from domain.entities import Classroom, Course, EntityType, StaffUser, Tenant, Term
from domain.events import CleverEvent
from services.apply_event import ENTITY_OF_RESOURCE, district_of
from services.mapping_for_apply import InvalidPage, map_items
from storage.tables import SYNCED_TABLES, districts


def _length(column_type: object) -> int | None:
    return column_type.length if isinstance(column_type, String) else None


DISTRICT_ID_LENGTH = _length(districts.c.id.type) or 64


def _column_lengths(table: Table) -> dict[str, int]:
    lengths = {column.name: _length(column.type) for column in table.columns}
    return {name: length for name, length in lengths.items() if length}


ENTITY_CLASSES: dict[EntityType, type] = {
    EntityType.TENANT: Tenant,
    EntityType.TERM: Term,
    EntityType.COURSE: Course,
    EntityType.CLASSROOM: Classroom,
    EntityType.STAFF: StaffUser,
}


def _bounded_fields(entity_class: type, lengths: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """The entity's fields stored in a column of bounded length, with that length."""
    return tuple((f.name, lengths[f.name]) for f in dataclasses.fields(entity_class) if f.name in lengths)


def _fits_any_member(hint: Any, limit: int) -> bool:
    is_enum = isinstance(hint, type) and issubclass(hint, enum.Enum)
    return is_enum and all(len(str(member.value)) <= limit for member in hint)


def _shortest_text_column(entity_class: type, bounded: tuple[tuple[str, int], ...]) -> int:
    """The shortest bounded column a value of the object may land in: a field holding an enum
    member that always fits is left out."""
    hints = typing.get_type_hints(entity_class)
    return min((limit for name, limit in bounded if not _fits_any_member(hints[name], limit)), default=0)


_BOUNDED = {
    entity_type: _bounded_fields(cls, _column_lengths(SYNCED_TABLES[entity_type.value]))
    for entity_type, cls in ENTITY_CLASSES.items()
}
_SHORTEST = {
    entity_type: _shortest_text_column(ENTITY_CLASSES[entity_type], bounded)
    for entity_type, bounded in _BOUNDED.items()
}


def _longest_value(obj: Any) -> int:
    """The length of the longest string or number anywhere in a parsed JSON value."""
    longest, pending = 0, [obj]
    while pending:
        value = pending.pop()
        if type(value) is str:
            longest = max(longest, len(value))
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            longest = max(longest, len(str(value)))
    return longest


def unstorable_reason(event: CleverEvent) -> str | None:
    """Why the event's object could not be stored, or None when it fits."""
    entity_type = ENTITY_OF_RESOURCE.get(event.resource)
    if entity_type is None:
        return None  # a resource the worker skips: nothing will be stored
    district = district_of(event)
    if district is not None and len(district) > DISTRICT_ID_LENGTH:
        return f"the district id is longer than {DISTRICT_ID_LENGTH} characters"
    if _longest_value(event.object) <= _SHORTEST[entity_type]:
        return None  # no value is long enough to overflow any column it could land in
    return mapped_reason(event, entity_type)


def mapped_reason(event: CleverEvent, entity_type: EntityType) -> str | None:
    """The exact check: the object mapped as the events worker maps it, field by field."""
    try:
        entities = map_items(f"{event.resource}:event", [event.object], principals={}, rules=())
    except InvalidPage as exc:
        return str(exc)
    for entity in entities:
        for name, limit in _BOUNDED[entity_type]:
            value = getattr(entity, name)
            if isinstance(value, str) and len(value) > limit:
                return f"object field {name} is longer than {limit} characters"
    return None
