"""Roles derived again from a stored staff user equal what mapping the user's Clever object gives,
whatever the principals, so a school event ends where a full sync would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.entities import Role, RoleRule
from domain.mapping import map_user
from domain.positions import future_bound, is_from_future, position_from_time
from domain.principal_change import emails_touched, principal_email_of, rederive_role

SCHOOLS = ("s1", "s2", "s3")
ROLE_SHAPES: list[dict[str, Any]] = [
    {"teacher": {"title": "Grade 3 Teacher", "school": "s1", "schools": ["s1"]}},
    {"staff": {"title": "Counselor", "schools": ["s2"]}},
    {"staff": {"title": "  Office Staff ", "schools": ["s2"]}},
    {"staff": {"schools": ["s1"]}},
    {"staff": {"title": "Principal", "schools": ["s1", "s2"]}},
    {"staff": {"title": "Assistant Principal", "schools": []}},
    {"district_admin": {"title": "Superintendent"}, "staff": {"title": "Coach", "schools": ["s3"]}},
    {"teacher": {"title": "Coach", "schools": ["s3"]}, "staff": {"title": "Librarian", "schools": ["s3"]}},
    {"staff": {"title": "Head Coach", "schools": ["s2"]}},
]
RULES = [(), (RoleRule(pattern="coach", role=Role.SCHOOL_ADMIN),)]


def user(roles: dict[str, Any], email: str | None = "Ada@Example.org ") -> dict[str, Any]:
    return {"id": "a" * 24, "name": {"first": "Ada", "last": "B"}, "email": email, "roles": roles}


principals = st.dictionaries(
    st.sampled_from(["ada@example.org", "other@example.org"]),
    st.lists(st.sampled_from(SCHOOLS), min_size=1, max_size=3, unique=True),
    max_size=2,
)


@given(
    st.sampled_from(ROLE_SHAPES),
    st.sampled_from(RULES),
    principals,
    principals,
    st.sampled_from(["Ada@Example.org ", None]),
)
def test_a_role_derived_again_from_the_row_equals_the_mapping_of_the_object(
    roles: dict[str, Any],
    rules: tuple[RoleRule, ...],
    before: dict[str, list[str]],
    after: dict[str, list[str]],
    email: str | None,
) -> None:
    stored = map_user(user(roles, email), before, rules)
    assert stored is not None
    assert rederive_role(stored, after, rules) == map_user(user(roles, email), after, rules)


def test_principal_emails_are_read_and_normalised() -> None:
    assert principal_email_of({"principal": {"email": " Ada@Example.org"}}) == "ada@example.org"
    assert principal_email_of({"name": "no principal"}) is None
    assert principal_email_of(None) is None
    assert emails_touched("A@x.org", None, " a@X.org ", "b@x.org") == {"a@x.org", "b@x.org"}


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ahead", "future"),
    [
        (timedelta(0), False),
        (timedelta(seconds=300), False),
        (timedelta(seconds=301), True),
        (timedelta(days=365), True),
    ],
)
def test_a_position_is_from_the_future_beyond_the_allowed_skew(ahead: timedelta, future: bool) -> None:
    real_id = position_from_time(NOW + ahead)[:8] + "ffffffffffffffff"
    assert is_from_future(real_id, NOW, 300) is future
    assert is_from_future(real_id.upper(), NOW, 300) is future


def test_the_future_bound_sorts_after_every_id_of_its_second() -> None:
    bound = future_bound(NOW, 0)
    assert position_from_time(NOW) < bound
    assert position_from_time(NOW + timedelta(seconds=1)) > bound
    with pytest.raises(ValueError):
        future_bound(NOW.replace(tzinfo=None), 300)
