"""Recorded real Clever responses (see tests/fixtures/clever_samples/SOURCE.md) map and parse cleanly."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.entities import TenantKind
from domain.events import RECORD_TYPES_USED, is_noise, is_private, parse_event, sort_events
from domain.hashing import MAPPING_VERSION, content_hash
from domain.mapping import map_district, map_school, map_section, map_term, map_user, strip_students
from domain.positions import is_position
from domain.roles import principal_index
from domain.terms import term_natural_key

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "clever_samples"


@cache
def _body(name: str) -> dict[str, Any]:
    cassette = yaml.safe_load((SAMPLES / f"{name}.yml").read_text(encoding="utf-8"))
    body: dict[str, Any] = json.loads(cassette["http_interactions"][0]["response"]["body"]["string"])
    return body


def items(name: str) -> list[dict[str, Any]]:
    """The list items (``{"data": obj, "uri": ...}``) of a recorded list response."""
    return list(_body(name)["data"])


def objects(name: str) -> list[dict[str, Any]]:
    return [item["data"] for item in items(name)]


def test_district() -> None:
    (district,) = [map_district(o) for o in objects("districts")]
    assert district.clever_id == "58da8a43cc70ab00017a1a87"
    assert district.kind is TenantKind.DISTRICT and district.name == "#DEMO Certification ISD - Events"


def test_schools_and_principal_index() -> None:
    schools = [map_school(o) for o in objects("schools")]
    assert len(schools) == 4
    assert all(s.parent_clever_id == "58da8a43cc70ab00017a1a87" for s in schools)
    pineapple = next(s for s in schools if s.school_number == "13K123")
    assert (pineapple.principal_name, pineapple.low_grade, pineapple.high_grade) == (
        "Cecilia Roderick",
        "TransitionalKindergarten",
        "5",
    )
    index = principal_index(schools)
    assert index["lspringsteen@mailinator.com"] == tuple(
        sorted(s.clever_id for s in schools if s.principal_name == "Leonard Springsteen")
    )
    assert len(index["lspringsteen@mailinator.com"]) == 3


def test_terms_keep_duplicate_names_apart() -> None:
    terms = [map_term(o) for o in objects("terms")]
    assert [t.name for t in terms] == ["S1", "S2", "Y1", "Y1", "Y1"]
    assert len({term_natural_key(t) for t in terms}) == 5


def test_sections_map_without_students() -> None:
    raw = objects("sections")
    assert len(raw) == 100 and any(o.get("students") for o in raw)
    student_ids = {s for o in raw for s in o.get("students", [])}
    for obj in raw:
        room = map_section(obj)
        assert room.teacher_clever_ids and room.teacher_clever_ids[0] == obj["teacher"]
        assert room.period and room.term_clever_id and room.course_clever_id
        assert not student_ids & set(room.teacher_clever_ids)
        assert "students" not in strip_students(obj)
        assert len(content_hash(room)) == 32


def test_sample_users_are_all_students_and_never_kept() -> None:
    raw = objects("users")
    assert len(raw) == 100 and all("student" in o["roles"] for o in raw)
    assert all(map_user(o, {}) is None for o in raw)


def test_events_all_parse_in_order() -> None:
    events = [parse_event(item) for item in items("events")]
    assert len(events) == 100
    assert all(is_position(e.id) for e in events)
    assert [e.id for e in sort_events(events)] == [e.id for e in events]  # the feed is already ordered
    assert {e.resource for e in events} <= set(RECORD_TYPES_USED)


def test_events_privacy_and_noise() -> None:
    events = [parse_event(item) for item in items("events")]
    by_type: dict[str, int] = {}
    for event in events:
        by_type[event.type] = by_type.get(event.type, 0) + 1
    assert by_type == {"districts.updated": 1, "schools.updated": 4, "users.created": 6, "users.updated": 89}

    kept = [e for e in events if not is_private(e)]
    # Only the two recorded teachers survive; students and contacts are dropped.
    assert sorted(e.object_id for e in kept if e.resource == "users") == [
        "5faac8b7bc447500a10ae857",
        "5faac8b7bc447500a10ae86f",
    ]
    for event in kept:
        if event.resource == "users":
            staff = map_user(event.object, {})
            assert staff is not None and staff.titles and staff.synced_role.value == "CONTRIBUTOR"
    (district_event,) = [e for e in events if e.resource == "districts"]
    assert is_noise(district_event)  # only last_sync changed
    assert not any(is_noise(e) for e in events if e.resource == "schools")


@pytest.mark.parametrize("name", ["districts", "schools", "terms", "sections"])
def test_list_items_carry_uri_and_id(name: str) -> None:
    for item in items(name):
        assert item["uri"].endswith(item["data"]["id"])


STAFF_SAMPLES: list[dict[str, Any]] = [
    {
        "id": "a1",
        "email": "T@x.org",
        "name": {"first": "A", "last": "B"},
        "roles": {"teacher": {"title": "Teacher", "schools": ["s1"]}},
    },
    {
        "id": "a2",
        "email": "p@x.org",
        "name": {"first": "C"},
        "roles": {"staff": {"title": "Assistant Principal", "schools": ["s1", "s2"], "department": "Office"}},
    },
    {
        "id": "a3",
        "roles": {"district_admin": {"title": "Superintendent"}, "staff": {"roles": ["School Tech Lead"]}},
    },
    {"id": "a4", "email": "n@x.org", "roles": {"staff": {"title": "Custodian", "schools": ["s2"]}}},
]
# MAPPING_VERSION → digest of what every sample maps to. Stored source hashes promise that an
# object maps to its stored row; a mapping that maps these samples differently needs a new
# MAPPING_VERSION (and its digest here), or syncs would keep rows the new mapping would change.
MAPPED_SAMPLES = {"1": "0fa27ddc24a4ec2ba1b8ea31c89a45aa36b899be4515a95c8f073292b929e355"}


def mapped_samples_digest() -> str:
    principals = principal_index(map_school(o) for o in objects("schools"))
    entities: list[Any] = [map_district(o) for o in objects("districts")]
    entities += [map_school(o) for o in objects("schools")]
    entities += [map_term(o) for o in objects("terms")]
    entities += [map_section(strip_students(o)) for o in objects("sections")]
    entities += [map_user(o, {**principals, "n@x.org": ("s2",)}) for o in STAFF_SAMPLES]
    return hashlib.sha256("".join(content_hash(e) for e in entities).encode()).hexdigest()


def test_a_mapping_that_maps_the_samples_differently_has_a_new_mapping_version() -> None:
    assert MAPPED_SAMPLES.get(MAPPING_VERSION) == mapped_samples_digest()
