"""Clever term ids are not stable: a term recreated with the same name and dates keeps its row,
whether the new id arrives with a full sync or with events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from domain.entities import Term
from domain.terms import term_natural_key
from storage.tables import terms


def adopt_churned_ids(
    conn: Connection, district_id: str, incoming: Sequence[Term], still_present: Iterable[str] = ()
) -> int:
    """Give an existing row the new id of a term that is the same by name and dates.

    `still_present`: ids Clever still lists (a page's unchanged terms, sent as ids only); their
    rows are nobody else's to adopt."""
    incoming_ids = {t.clever_id for t in incoming} | set(still_present)
    rows = conn.execute(
        select(terms.c.id, terms.c.clever_id, terms.c.name, terms.c.start_date, terms.c.end_date).where(
            terms.c.district_id == district_id
        )
    ).all()
    known_ids = {r.clever_id for r in rows}
    by_key: dict[tuple[str | None, str | None, str | None], Any] = {}
    for r in rows:
        if r.clever_id not in incoming_ids:
            by_key.setdefault((r.name, r.start_date, r.end_date), r)
    adopted = 0
    for term in incoming:
        key = term_natural_key(term)
        if term.clever_id in known_ids or key is None or key not in by_key:
            continue
        old = by_key.pop(key)
        conn.execute(update(terms).where(terms.c.id == old.id).values(clever_id=term.clever_id))
        adopted += 1
    return adopted


def adopt_deleted_rows(conn: Connection, district_id: str, incoming: Sequence[tuple[Term, str]]) -> int:
    """Events: give a term seen under a new id (with the event's position) the row of a deleted
    term that is the same by name and dates, as `adopt_churned_ids` does in a full sync.

    Clever sends the churn as a delete and a create. An event cannot know which terms Clever
    still lists, so only a row no longer active is adopted, and only one whose position is not
    newer than the event's (a delete that came after this create is a different story)."""
    new = {term.clever_id: (term, position) for term, position in incoming if term_natural_key(term)}
    if not new:
        return 0
    known = set(
        conn.execute(
            select(terms.c.clever_id).where(
                terms.c.district_id == district_id, terms.c.clever_id.in_(sorted(new))
            )
        ).scalars()
    )
    rows = conn.execute(
        select(terms.c.id, terms.c.name, terms.c.start_date, terms.c.end_date, terms.c.source_position)
        .where(terms.c.district_id == district_id, terms.c.active.is_(False))
        .order_by(terms.c.source_position.desc(), terms.c.id)  # the latest deleted first
    ).all()
    by_key: dict[tuple[str | None, str | None, str | None], list[Any]] = {}
    for r in rows:
        by_key.setdefault((r.name, r.start_date, r.end_date), []).append(r)
    adopted = 0
    for clever_id, (term, position) in sorted(new.items(), key=lambda item: item[1][1]):
        if clever_id in known:
            continue
        candidates = by_key.get(term_natural_key(term) or (None, None, None), [])
        old = next((r for r in candidates if r.source_position <= position), None)
        if old is None:
            continue
        candidates.remove(old)
        conn.execute(update(terms).where(terms.c.id == old.id).values(clever_id=clever_id))
        adopted += 1
    return adopted
