from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.deletion_guard import DeactivationPlan, SweepFacts, plan_deactivations, plan_restorations
from domain.entities import EntityType


def ids(n: int, prefix: str = "id") -> set[str]:
    return {f"{prefix}{i:04d}" for i in range(n)}


def test_nothing_missing() -> None:
    plan = plan_deactivations(EntityType.STAFF, SweepFacts.of(ids(5), ids(5) | {"new"}), fetch_complete=True)
    assert plan == DeactivationPlan(EntityType.STAFF, (), False, "every active staff was seen")


def test_exactly_ten_percent_is_allowed() -> None:
    active = ids(100)
    plan = plan_deactivations(EntityType.CLASSROOM, SweepFacts.of(active, ids(90)), fetch_complete=True)
    assert not plan.held
    assert plan.to_deactivate == tuple(sorted(active - ids(90)))
    assert plan.candidates == plan.to_deactivate
    assert "10 of 100" in plan.reason


def test_ten_point_one_percent_is_held() -> None:
    plan = plan_deactivations(EntityType.CLASSROOM, SweepFacts.of(ids(1000), ids(899)), fetch_complete=True)
    assert plan.held
    assert plan.to_deactivate == ()
    assert len(plan.candidates) == 101
    assert "held" in plan.reason and "10.1%" in plan.reason


def test_one_of_three_is_held_at_default_threshold() -> None:
    plan = plan_deactivations(EntityType.TENANT, SweepFacts.of(ids(3), ids(2)), fetch_complete=True)
    assert plan.held and plan.to_deactivate == ()


def test_custom_threshold() -> None:
    plan = plan_deactivations(
        EntityType.TENANT, SweepFacts.of(ids(3), ids(2)), fetch_complete=True, threshold=0.5
    )
    assert not plan.held and len(plan.to_deactivate) == 1
    everything = plan_deactivations(
        EntityType.TERM, SweepFacts.of(ids(4), {"other"}), fetch_complete=True, threshold=1.0
    )
    assert len(everything.to_deactivate) == 4


def test_incomplete_fetch_never_deactivates() -> None:
    plan = plan_deactivations(EntityType.STAFF, SweepFacts.of(ids(100), ids(99)), fetch_complete=False)
    assert plan.to_deactivate == ()
    assert plan.held
    assert "incomplete" in plan.reason


def test_empty_fetch_never_deactivates_even_with_full_threshold() -> None:
    plan = plan_deactivations(
        EntityType.STAFF, SweepFacts.of(ids(2), set()), fetch_complete=True, threshold=1.0
    )
    assert plan.to_deactivate == ()
    assert plan.held
    assert "no rows" in plan.reason


def test_nothing_active_nothing_to_do() -> None:
    plan = plan_deactivations(EntityType.COURSE, SweepFacts.of(set(), set()), fetch_complete=True)
    assert plan == DeactivationPlan(EntityType.COURSE, (), False, "every active course was seen")


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_out_of_range(threshold: float) -> None:
    with pytest.raises(ValueError):
        plan_deactivations(EntityType.STAFF, SweepFacts.of(ids(1), ids(1)), True, threshold)


def test_restorations() -> None:
    assert plan_restorations({"b", "a", "c"}, {"a", "b", "z"}) == ("a", "b")
    assert plan_restorations([], {"a"}) == ()


id_sets = st.sets(st.sampled_from([f"id{i}" for i in range(40)]), max_size=40)


@settings(max_examples=200)
@given(id_sets, id_sets, st.booleans(), st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 1.0]))
def test_guard_invariants(active: set[str], seen: set[str], complete: bool, threshold: float) -> None:
    plan = plan_deactivations(EntityType.STAFF, SweepFacts.of(active, seen), complete, threshold)
    missing = active - seen
    assert set(plan.candidates) == missing
    assert list(plan.to_deactivate) == sorted(plan.to_deactivate)
    assert set(plan.to_deactivate) <= missing  # never touches a row that was seen or is inactive
    assert plan.held == (bool(missing) and not plan.to_deactivate)
    if not complete or (active and not seen):
        assert plan.to_deactivate == ()
    if plan.to_deactivate:
        assert set(plan.to_deactivate) == missing  # all or nothing
        assert Fraction(len(missing), len(active)) <= Fraction(str(threshold))
    elif complete and seen and missing:
        assert Fraction(len(missing), len(active)) > Fraction(str(threshold))


@settings(max_examples=100)
@given(id_sets, id_sets)
def test_restoration_invariants(inactive: set[str], seen: set[str]) -> None:
    restored = plan_restorations(inactive, seen)
    assert set(restored) == inactive & seen
    assert list(restored) == sorted(restored)
