"""Would an event's object fit the row it becomes? Checked at the webhook, so an event the worker
could never store is refused with 422 instead of being accepted and then dead-lettered.

The object is mapped exactly as the events worker maps it (without the district's role rules,
which change no stored length), and each string field is compared with its column's length.
NUL characters and lone surrogates were already refused when the body was decoded.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import String, Table

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


_LENGTHS = {name: _column_lengths(table) for name, table in SYNCED_TABLES.items()}


_BOUNDED: dict[tuple[type, str], tuple[tuple[str, int], ...]] = {}


def _bounded_fields(entity: object, entity_type: str) -> tuple[tuple[str, int], ...]:
    """The entity's fields stored in a column of bounded length, with that length (worked out
    once per entity class)."""
    key = (type(entity), entity_type)
    found = _BOUNDED.get(key)
    if found is None:
        lengths = _LENGTHS[entity_type]
        names = (f.name for f in dataclasses.fields(entity))  # type: ignore[arg-type]
        found = _BOUNDED[key] = tuple((name, lengths[name]) for name in names if name in lengths)
    return found


def unstorable_reason(event: CleverEvent) -> str | None:
    """Why the event's object could not be stored, or None when it fits."""
    entity_type = ENTITY_OF_RESOURCE.get(event.resource)
    if entity_type is None:
        return None  # a resource the worker skips: nothing will be stored
    district = district_of(event)
    if district is not None and len(district) > DISTRICT_ID_LENGTH:
        return f"the district id is longer than {DISTRICT_ID_LENGTH} characters"
    try:
        entities = map_items(f"{event.resource}:event", [event.object], principals={}, rules=())
    except InvalidPage as exc:
        return str(exc)
    for entity in entities:
        for name, limit in _bounded_fields(entity, entity_type.value):
            value = getattr(entity, name)
            if isinstance(value, str) and len(value) > limit:
                return f"object field {name} is longer than {limit} characters"
    return None
