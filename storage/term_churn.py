"""Clever term ids are not stable: a term recreated with the same name and dates keeps its row."""

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
