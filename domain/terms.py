"""Term identity across Clever id churn.

Clever deletes and recreates a term whenever its sections or details change, so the same term can
come back under a new id. A term with the same name and dates is the same term to a school; the
storage layer uses this key to update the existing row in place instead of adding a duplicate.
"""

from __future__ import annotations

from domain.entities import Term

TermKey = tuple[str | None, str | None, str | None]


def term_natural_key(term: Term) -> TermKey | None:
    """``(name, start_date, end_date)``, or None when all three are empty (nothing to match on).

    Names are compared as Clever sends them (stripped by the mapping): "S1" and "s1" are
    different SIS codes. Several terms may share a name ("Y1" every year); the dates tell them apart.
    """
    key = (term.name or None, term.start_date or None, term.end_date or None)
    return None if key == (None, None, None) else key
