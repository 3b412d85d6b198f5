"""Mark-and-sweep decisions after a full fetch: what to deactivate, what to restore.

A full sync marks every id it sees; active rows not seen have left Clever. Because a broken or
partial fetch looks exactly like a mass deletion, the guard refuses to act when the fetch of that
entity type did not complete, when it returned nothing while rows exist, or when more than
``threshold`` of the active rows would go (an admin confirms those by hand).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from fractions import Fraction

from domain.entities import EntityType

DEFAULT_THRESHOLD = 0.10


@dataclass(frozen=True, slots=True)
class SweepFacts:
    """What the sweep of one entity type turns on: how many of the district's rows are active,
    which of them the fetch did not see (sorted), and whether it saw any id at all."""

    active: int
    unseen: tuple[str, ...]
    saw_any: bool

    @classmethod
    def of(cls, active_ids: Set[str], seen_ids: Set[str]) -> SweepFacts:
        return cls(len(active_ids), tuple(sorted(set(active_ids) - set(seen_ids))), bool(seen_ids))


@dataclass(frozen=True, slots=True)
class DeactivationPlan:
    """``to_deactivate`` is what to apply. ``candidates`` is what left Clever according to the fetch.

    ``held`` is True exactly when there are candidates and the guard stopped all of them;
    ``reason`` says why, for logs and the admin screen.
    """

    entity_type: EntityType
    to_deactivate: tuple[str, ...]
    held: bool
    reason: str
    candidates: tuple[str, ...] = ()


def plan_deactivations(
    entity_type: EntityType,
    facts: SweepFacts,
    fetch_complete: bool,
    threshold: float = DEFAULT_THRESHOLD,
) -> DeactivationPlan:
    """Decide which active rows of one type to deactivate after a full fetch.

    Exactly ``threshold`` of the active rows may go; strictly more is held. The comparison is
    exact (fractions), so 10 of 100 passes and 101 of 1000 is held at the default 10%.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    candidates = facts.unseen
    label = entity_type.value

    def hold(reason: str) -> DeactivationPlan:
        return DeactivationPlan(entity_type, (), bool(candidates), reason, candidates)

    if not fetch_complete:
        return hold(f"{label} fetch incomplete: nothing deactivated")
    if not candidates:
        return DeactivationPlan(entity_type, (), False, f"every active {label} was seen")
    if not facts.saw_any:
        return hold(f"{label} fetch returned no rows while {facts.active} are active: nothing deactivated")
    share = Fraction(len(candidates), facts.active)
    if share > Fraction(str(threshold)):
        return hold(
            f"{len(candidates)} of {facts.active} active {label} rows missing "
            f"({float(share):.1%} > {threshold:.1%}): held for confirmation"
        )
    return DeactivationPlan(
        entity_type,
        candidates,
        False,
        f"{len(candidates)} of {facts.active} active {label} rows left Clever",
        candidates,
    )


def plan_restorations(inactive_ids: Iterable[str], seen_ids: Set[str]) -> tuple[str, ...]:
    """Inactive ids that Clever shows again, sorted: restore them.

    Seeing an id is positive evidence, so this applies even after an incomplete fetch. Ids
    deleted by a newer event are kept out by the position check in storage, not here.
    """
    return tuple(sorted({i for i in inactive_ids if i in seen_ids}))
