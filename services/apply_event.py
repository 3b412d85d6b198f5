"""Apply one Clever event (pushed to the webhook or polled) exactly once, in order per entity.

The event id is both the idempotency key and the source position: an older event never
overwrites a newer state, a delete leaves a tombstone, and a full-sync page fetched before
the delete cannot bring the entity back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import Connection, func, select

from domain.entities import EntityType
from domain.events import CleverEvent, is_noise, is_private, parse_event
from domain.roles import normalize_email
from rostersync.runtime import Runtime
from services.clever_schedules import refresh_clever_schedules
from services.mapping_for_apply import map_items, role_rules
from storage import connections, idempotency
from storage.tables import SYNCED_TABLES, tenants
from storage.upserts import deactivate_entities, upsert_entities

log = structlog.get_logger(__name__)

ENTITY_OF_RESOURCE: dict[str, EntityType] = {
    "districts": EntityType.TENANT,
    "schools": EntityType.TENANT,
    "terms": EntityType.TERM,
    "courses": EntityType.COURSE,
    "sections": EntityType.CLASSROOM,
    "users": EntityType.STAFF,
}


def district_of(event: CleverEvent) -> str | None:
    if event.resource == "districts":
        return event.object_id
    district = event.object.get("district")
    return str(district) if district else None


def principals_from_db(conn: Connection, district_id: str, email: str | None) -> dict[str, list[str]]:
    """The schools whose principal has this user's email (the only entry the mapping needs)."""
    normalized = normalize_email(email)
    if normalized is None:
        return {}
    query = select(tenants.c.clever_id).where(
        tenants.c.district_id == district_id,
        tenants.c.kind == "school",
        tenants.c.active.is_(True),
        func.lower(func.trim(tenants.c.principal_email)) == normalized,
    )
    schools = [school_id for (school_id,) in conn.execute(query)]
    return {normalized: schools} if schools else {}


def apply_event(rt: Runtime, raw: Mapping[str, Any], *, source: str) -> str:
    """Returns what happened: applied, duplicate, noise, private, unknown_district, disconnected,
    unsupported. Malformed events raise InvalidEvent (the message is dead-lettered)."""
    event = parse_event(raw)
    if is_private(event):
        return "private"
    entity_type = ENTITY_OF_RESOURCE.get(event.resource)
    if entity_type is None:
        return "unsupported"
    district_id = district_of(event)
    with rt.engine.begin() as conn:
        district = connections.get_district(conn, district_id, for_share=True) if district_id else None
        if district is None:
            log.info("event.unknown_district", event_id=event.id)
            return "unknown_district"
        if district["status"] in ("disconnected", "connecting"):
            log.info("event.dropped_disconnected", event_id=event.id, district_id=district_id)
            return "disconnected"
        if not idempotency.claim(conn, f"event:{event.id}", district_id=district["id"], kind="event"):
            return "duplicate"
        options = district["options"] or {}
        field_name = options.get("bell_schedule_ext_field", rt.settings.bell_schedule_ext_field)
        if is_noise(event, field_name):
            return "noise"
        principals = (
            principals_from_db(conn, district["id"], event.object.get("email"))
            if entity_type == EntityType.STAFF
            else {}
        )
        entities = map_items(
            f"{event.resource}:event", [event.object], principals=principals, rules=role_rules(options)
        )
        table = SYNCED_TABLES[entity_type.value]
        position = event.id.lower()
        if not entities and entity_type == EntityType.STAFF:
            # Someone who lost every staff-side role is no longer staff: deactivate, keep the row.
            deactivate_entities(conn, table, district["id"], [event.object_id], position)
        outcome = upsert_entities(
            conn, table, district["id"], entities, position, deleted=event.action == "deleted"
        )
        schools = _schedules_touched(event, field_name)
        if outcome.written_ids and schools != []:
            refresh_clever_schedules(rt, conn, district["id"], schools)
    log.info(
        "event.applied",
        event_id=event.id,
        type=event.type,
        source=source,
        **{k: v for k, v in outcome.as_counters().items() if v},
    )
    return "applied"


def _schedules_touched(event: CleverEvent, field_name: str | None) -> list[str] | None:
    """The schools whose Clever bell schedule the event may change; None means every school."""
    if event.resource == "sections":
        if event.action != "updated" or "period" in event.previous_attributes:
            return [str(event.object.get("school"))]
        return []
    if event.resource == "districts":
        return None if "ext" in event.previous_attributes else []
    if event.resource == "schools" and event.action != "updated":
        return [event.object_id]
    return []
