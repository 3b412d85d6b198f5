"""The webhook's storable check skips mapping when no value of the object is long enough to
overflow a column; with or without that shortcut it must answer the same for any object."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.storable_events as storable
from domain.entities import EntityType
from domain.events import CleverEvent, parse_event
from gateway.storable_events import ENTITY_CLASSES, mapped_reason, unstorable_reason
from services.apply_event import ENTITY_OF_RESOURCE

EVENT_ID = "6500000000000000000000aa"
DISTRICT = "5a0f3e2b1c4d5e6f7a8b9c0e"

# Every key a mapper reads, so generated objects reach every bounded field.
KEYS = (
    "name", "sis_id", "school_number", "low_grade", "high_grade", "principal", "phone", "ext",
    "start_date", "end_date", "number", "school", "period", "subject", "grade", "teacher",
    "teachers", "term_id", "course", "section_number", "email", "roles", "first", "middle", "last",
    "title", "department", "schools", "district_admin", "staff", "title", "other",
)  # fmt: skip
# Decoded JSON never holds NUL or lone surrogates (the gateway refuses them first).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=20,
)
OBJECTS = st.fixed_dictionaries(
    {"id": TEXT.filter(lambda t: bool(t.strip())), "district": st.just(DISTRICT) | SCALARS},
    optional={key: VALUES for key in KEYS},
)


def event_of(resource: str, obj: dict[str, Any]) -> CleverEvent:
    return parse_event({"id": EVENT_ID, "type": f"{resource}.updated", "data": {"object": obj}})


@settings(max_examples=400, deadline=None)
@given(resource=st.sampled_from(sorted(ENTITY_OF_RESOURCE)), obj=OBJECTS)
def test_the_shortcut_answers_as_mapping_does(resource: str, obj: dict[str, Any]) -> None:
    event = event_of(resource, obj)
    assert unstorable_reason(event) == mapped_reason(event, ENTITY_OF_RESOURCE[resource])


def test_every_entity_type_has_its_class() -> None:
    assert set(ENTITY_CLASSES) == set(EntityType)


def test_enum_fields_never_shorten_the_bound() -> None:
    # A staff user's synced role is a column of 32, but only ever holds a Role: the shortest
    # column a user's own text may land in is its id's.
    assert storable._SHORTEST[EntityType.STAFF] == 64
    assert storable._SHORTEST[EntityType.TERM] == 10  # the dates


def test_an_object_of_short_values_is_not_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("mapped")

    monkeypatch.setattr(storable, "mapped_reason", refuse)
    user = {"id": "a" * 64, "district": DISTRICT, "roles": {"teacher": {"title": "Teacher"}}}
    assert unstorable_reason(event_of("users", user)) is None


TEACHER = {"teacher": {}}
TOO_LONG = "object field {} is longer than {} characters"


@pytest.mark.parametrize(
    ("resource", "obj", "reason"),
    [
        ("users", {"id": "a" * 65, "roles": TEACHER}, TOO_LONG.format("clever_id", 64)),
        ("users", {"id": "a" * 24, "name": {"last": "x" * 500}, "roles": TEACHER}, None),  # names: text
        ("terms", {"id": "a" * 24, "start_date": "2026-08-170"}, TOO_LONG.format("start_date", 10)),
        ("terms", {"id": "a" * 24, "start_date": "  2026-08-17  "}, None),  # stripped, as stored
        ("sections", {"id": "a" * 24, "grade": 1e300}, None),
        ("sections", {"id": "a" * 24, "grade": -(2**62) * 10**13}, TOO_LONG.format("grade", 32)),
    ],
)
def test_long_values_are_judged_by_the_column_they_land_in(
    resource: str, obj: dict[str, Any], reason: str | None
) -> None:
    assert unstorable_reason(event_of(resource, {"district": DISTRICT, **obj})) == reason
