"""Apply Clever events (pushed to the webhook or polled) exactly once, in order per entity.

The event id is both the idempotency key and the source position: an older event never
overwrites a newer state, a delete leaves a tombstone, and a full-sync page fetched before
the delete cannot bring the entity back.

Several events may be applied in one transaction (`apply_events`): each keeps its own position,
so the result is the one applying them one at a time would give, with one lock, one key insert
and one upsert per table instead of one of each per event.

Deltas end where a full sync would: a school event that changes its principal email re-derives
the roles of the staff it concerns, and a term created under a new id takes over the row of
the same term deleted under its old id (Clever's term id churn). An event whose id is from the
future (more than CLOCK_SKEW_SECONDS ahead) is not applied: it would order every later change
behind it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Table

from domain.entities import EntityType, RoleRule, Term
from domain.events import CleverEvent, is_noise, is_private, parse_event
from domain.positions import is_from_future
from rostersync.metrics import record
from rostersync.runtime import Runtime
from services.clever_schedules import refresh_clever_schedules
from services.mapping_for_apply import map_with_sources, role_rules
from services.principal_changes import PrincipalChange, principal_change, rederive_roles
from storage import connections, idempotency
from storage.staff_roles import principal_schools, stored_principal_emails
from storage.tables import SYNCED_TABLES
from storage.term_churn import adopt_deleted_rows
from storage.upserts import Version, deactivate_entities, upsert_versions

log = structlog.get_logger(__name__)

ENTITY_OF_RESOURCE: dict[str, EntityType] = {
    "districts": EntityType.TENANT,
    "schools": EntityType.TENANT,
    "terms": EntityType.TERM,
    "courses": EntityType.COURSE,
    "sections": EntityType.CLASSROOM,
    "users": EntityType.STAFF,
}


@dataclass(frozen=True)
class SourcedEvent:
    event: CleverEvent
    source: str  # webhook | poll


def district_of(event: CleverEvent) -> str | None:
    if event.resource == "districts":
        return event.object_id
    district = event.object.get("district")
    return str(district) if district else None


def idempotency_key(event: CleverEvent) -> str:
    """One key per event whatever the case its id was sent in."""
    return f"event:{event.id.lower()}"


def apply_event(rt: Runtime, raw: Mapping[str, Any], *, source: str) -> str:
    """Returns what happened: applied, duplicate, noise, private, unknown_district, disconnected,
    unsupported, future. Malformed events raise InvalidEvent (the message is dead-lettered)."""
    return apply_events(rt, [SourcedEvent(parse_event(raw), source)])[0]


def apply_events(rt: Runtime, batch: Sequence[SourcedEvent]) -> list[str]:
    """Apply parsed events in one transaction; returns each one's outcome, in order."""
    outcomes: list[str] = [""] * len(batch)
    by_district: dict[str, list[int]] = defaultdict(list)
    now = datetime.now(UTC)
    for index, item in enumerate(batch):
        event = item.event
        district_id = district_of(event)
        if is_private(event):
            outcomes[index] = "private"
        elif is_from_future(event.id, now, rt.settings.clock_skew_seconds):
            # Queued before the gateway and the poller refused such ids; applying it would pin
            # its rows until a full sync. Not retried: it would be refused the same way.
            outcomes[index] = "future"
            log.warning("events.from_the_future", event_id=event.id, district_id=district_id)
        elif event.resource not in ENTITY_OF_RESOURCE:
            outcomes[index] = "unsupported"
        elif district_id is None:
            outcomes[index] = "unknown_district"
        else:
            by_district[district_id].append(index)
    if by_district:
        with rt.engine.begin() as conn:
            for district_id in sorted(by_district):  # one lock order for every worker
                indexes = by_district[district_id]
                events = [batch[i].event for i in indexes]
                for index, outcome in zip(
                    indexes, _apply_for_district(rt, conn, district_id, events), strict=True
                ):
                    outcomes[index] = outcome
    # One line per batch (a line per event costs as much as applying it): counts by outcome at
    # info, the ids only when debugging (rendering them costs more than the counts are worth).
    ids_by_outcome: dict[str, list[str]] = defaultdict(list)
    for item, outcome in zip(batch, outcomes, strict=True):
        ids_by_outcome[outcome].append(item.event.id)
    sources = sorted({i.source for i in batch})
    counts = {outcome: len(ids) for outcome, ids in ids_by_outcome.items()}
    log.info("events.applied", batch=len(batch), sources=sources, **counts)
    log.debug("events.applied_ids", **ids_by_outcome)
    handled = ((i.event.id, i.source, o) for i, o in zip(batch, outcomes, strict=True))
    record.events_handled(handled, datetime.now(UTC))
    return outcomes


@dataclass
class _Writes:
    """Besides the upserts: who lost every staff role, and which schedules may have changed."""

    lost_staff: list[tuple[str, str]] = field(default_factory=list)  # (clever id, position)
    schedules: list[tuple[Table, str, list[str] | None]] = field(default_factory=list)


def _apply_for_district(
    rt: Runtime, conn: Connection, district_id: str, events: list[CleverEvent]
) -> list[str]:
    district = connections.get_district(conn, district_id, for_share=True)
    if district is None:
        return ["unknown_district"] * len(events)
    if district["status"] in ("disconnected", "connecting"):
        return ["disconnected"] * len(events)
    claimed = idempotency.claim_many(
        conn, [idempotency_key(e) for e in events], district_id=district["id"], kind="event"
    )
    options = district["options"] or {}
    field_name = options.get("bell_schedule_ext_field", rt.settings.bell_schedule_ext_field)
    outcomes: list[str] = []
    live: list[CleverEvent] = []
    for event in events:
        key = idempotency_key(event)
        if key not in claimed:
            outcomes.append("duplicate")
            continue
        claimed.discard(key)  # the same id twice in one batch: the second is a duplicate
        outcome = "noise" if is_noise(event, field_name) else "applied"
        outcomes.append(outcome)
        if outcome == "applied":
            live.append(event)
    if live:
        _write(rt, conn, district["id"], live, role_rules(options), field_name)
    return outcomes


def _principal_changes(
    events: list[CleverEvent],
    written: set[tuple[Table, str]],
    before: Mapping[str, str | None],
) -> list[PrincipalChange]:
    """The principal emails the written school events of a batch changed."""
    tenants = SYNCED_TABLES[EntityType.TENANT.value]
    changes = []
    for event in events:
        if event.resource != "schools" or (tenants, event.object_id) not in written:
            continue
        change = principal_change(
            event.object_id,
            event.action,
            event.object,
            event.previous_attributes,
            before.get(event.object_id),
        )
        if change is not None:
            changes.append(change)
    return changes


TENANT_RESOURCES = ("districts", "schools")


def _write(
    rt: Runtime,
    conn: Connection,
    district_id: str,
    events: list[CleverEvent],
    rules: Sequence[RoleRule],
    field_name: str | None,
) -> None:
    # Schools first: a user is mapped with the principal emails the batch's school events left.
    tenants_first = [e for e in events if e.resource in TENANT_RESOURCES]
    rest = [e for e in events if e.resource not in TENANT_RESOURCES]
    writes = _Writes()
    written: set[tuple[Table, str]] = set()
    skew = rt.settings.clock_skew_seconds
    school_ids = [e.object_id for e in tenants_first if e.resource == "schools"]
    principals_before = stored_principal_emails(conn, district_id, school_ids)
    for phase in (tenants_first, rest):
        if not phase:
            continue
        emails = [e.object.get("email") for e in phase if e.resource == "users"]
        principals = principal_schools(conn, district_id, emails) if emails else {}
        versions = _map_events(phase, principals, rules, field_name, writes)
        _adopt_churned_terms(conn, district_id, versions)
        for table, table_versions in versions.items():
            # Not read first: only which rows were written matters here, not how each counts.
            outcome = upsert_versions(
                conn, table, district_id, table_versions, skew_seconds=skew, read_first=False
            )
            written.update((table, clever_id) for clever_id in outcome.written_ids)
        if phase is tenants_first:
            # Before the batch's users are mapped, so an event of theirs builds on the new roles.
            changes = _principal_changes(phase, written, principals_before)
            rederive_roles(conn, district_id, changes, rules)
    # After the upserts: a user created and then stripped of staff roles in one batch ends
    # inactive, and the position guard keeps a newer update in the batch active.
    staff_table = SYNCED_TABLES[EntityType.STAFF.value]
    for clever_id, position in writes.lost_staff:
        deactivate_entities(conn, staff_table, district_id, [clever_id], position, skew_seconds=skew)
    touched = [schools for table, clever_id, schools in writes.schedules if (table, clever_id) in written]
    if touched:
        every = any(schools is None for schools in touched)
        refresh_clever_schedules(
            rt, conn, district_id, None if every else sorted({s for group in touched for s in group or ()})
        )


def _adopt_churned_terms(conn: Connection, district_id: str, versions: Mapping[Table, list[Version]]) -> None:
    """As a full sync would: a term back under a new id keeps the row it had under the old one."""
    terms = SYNCED_TABLES[EntityType.TERM.value]
    seen = [
        (v.entity, v.position)
        for v in versions.get(terms, ())
        if isinstance(v.entity, Term) and not v.deleted
    ]
    if seen:
        adopt_deleted_rows(conn, district_id, seen)


def _map_events(
    events: list[CleverEvent],
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule],
    field_name: str | None,
    writes: _Writes,
) -> dict[Table, list[Version]]:
    """Each event's entity as a version at the event's position; notes lost staff and schedules."""
    versions: dict[Table, list[Version]] = defaultdict(list)
    for event in events:
        entity_type = ENTITY_OF_RESOURCE[event.resource]
        table = SYNCED_TABLES[entity_type.value]
        position = event.id.lower()
        entities, sources = map_with_sources(
            f"{event.resource}:event", [event.object], principals=principals, rules=rules
        )
        if not entities and entity_type == EntityType.STAFF:
            # Someone who lost every staff-side role is no longer staff: deactivate, keep the row.
            writes.lost_staff.append((event.object_id, position))
        deleted = event.action == "deleted"
        versions[table].extend(
            Version(entity, position, deleted, None if deleted else source)
            for entity, source in zip(entities, sources, strict=True)
        )
        schools = _schedules_touched(event, field_name)
        if schools != []:
            writes.schedules.append((table, event.object_id, schools))
    return versions


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
