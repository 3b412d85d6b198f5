from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.events import (
    RECORD_TYPES_USED,
    CleverEvent,
    InvalidEvent,
    event_order_key,
    is_noise,
    is_private,
    parse_event,
    sort_events,
)

EVENT_ID = "64206e4431f12f05cc490775"
SCHOOL_OBJ = {"id": "58da8c58155b940248000007", "name": "Pineapple Elementary School", "low_grade": "1"}


def wire(
    type_: str = "schools.updated", obj: Any = None, previous: Any = None, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": copy.deepcopy(SCHOOL_OBJ) if obj is None else obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": EVENT_ID, "type": type_, "created": "2023-03-26T16:09:40.000Z", "data": data, **extra}


def test_parse_wire_placement() -> None:
    event = parse_event(wire(previous={"low_grade": "Kindergarten"}))
    assert event == CleverEvent(
        id=EVENT_ID,
        resource="schools",
        action="updated",
        object=SCHOOL_OBJ,
        previous_attributes={"low_grade": "Kindergarten"},
        created="2023-03-26T16:09:40.000Z",
    )
    assert (event.type, event.object_id) == ("schools.updated", SCHOOL_OBJ["id"])


def test_parse_spec_placement_beside_data() -> None:
    event = parse_event(wire(previous_attributes={"name": "Old"}))
    assert event.previous_attributes == {"name": "Old"}


def test_parse_list_item_wrapper() -> None:
    item = {"data": wire(previous={"name": "Old"}), "uri": f"/v3.0/events/{EVENT_ID}"}
    event = parse_event(item)
    assert (event.id, event.previous_attributes) == (EVENT_ID, {"name": "Old"})


def test_created_and_deleted_have_no_previous_attributes() -> None:
    assert parse_event(wire("schools.created")).previous_attributes == {}
    deleted = parse_event(wire("users.deleted", obj={"id": "u1", "roles": {"teacher": {}}}))
    assert (deleted.resource, deleted.action, deleted.created) == (
        "users",
        "deleted",
        "2023-03-26T16:09:40.000Z",
    )


def test_section_events_lose_students_everywhere() -> None:
    obj = {"id": "sec1", "teachers": ["t1"], "students": ["s1", "s2"]}
    event = parse_event(wire("sections.updated", obj=obj, previous={"students": ["s1"], "period": "3"}))
    assert "students" not in event.object
    assert event.previous_attributes == {"period": "3"}
    assert obj["students"] == ["s1", "s2"]  # the input is not mutated


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "must be a JSON object"),
        ([], "must be a JSON object"),
        ({**wire(), "id": None}, "has no id"),
        ({**wire(), "id": "  "}, "has no id"),
        ({k: v for k, v in wire().items() if k != "type"}, "has no type"),
        (wire("schools.renamed"), "unknown type 'schools.renamed'"),
        (wire("bellschedules.created"), "unknown type"),
        (wire("users"), "unknown type"),
        ({**wire(), "data": None}, "has no data"),
        ({**wire(), "data": {"previous_attributes": {}}}, "has no data.object"),
        (wire(obj={"name": "no id"}), "object has no id"),
        (wire(obj={"id": ""}), "object has no id"),
        (wire(previous=["x"]), "previous_attributes is not an object"),
    ],
)
def test_malformed_events_raise_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(raw)


def test_invalid_event_is_a_value_error() -> None:
    assert issubclass(InvalidEvent, ValueError)


def test_record_types_used() -> None:
    assert RECORD_TYPES_USED == ("districts", "schools", "terms", "courses", "sections", "users")


# --- privacy -------------------------------------------------------------------------------------


def user_event(roles: Any, type_: str = "users.updated") -> CleverEvent:
    return parse_event(wire(type_, obj={"id": "u1", "name": {"first": "A", "last": "B"}, "roles": roles}))


@pytest.mark.parametrize(
    "roles", [{"student": {"grade": "9"}}, {"contact": {"phone": "1"}}, {"student": {}, "contact": {}}]
)
def test_student_and_contact_events_are_private(roles: dict[str, Any]) -> None:
    for action in ("created", "updated", "deleted"):
        assert is_private(user_event(roles, f"users.{action}"))


@pytest.mark.parametrize("roles", [{"teacher": {}}, {"staff": {}, "district_admin": {}}, {}, None])
def test_staff_and_roleless_user_events_are_not_private(roles: Any) -> None:
    assert not is_private(user_event(roles))


@pytest.mark.parametrize("type_", ["students.created", "contacts.updated", "studentcontacts.deleted"])
def test_legacy_student_and_contact_types_are_private(type_: str) -> None:
    assert is_private(parse_event(wire(type_, obj={"id": "x"})))


def test_other_resources_are_not_private() -> None:
    assert not is_private(parse_event(wire()))
    assert not is_private(parse_event(wire("teachers.updated", obj={"id": "x"})))


# --- noise ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "noise"),
    [
        ({"students": ["s1"]}, True),
        ({}, True),
        (None, True),
        ({"students": [], "last_modified": "2023-01-01"}, True),
        ({"students": [], "teachers": ["t1"]}, False),
        ({"period": "2"}, False),
        ({"term_id": "t"}, False),
    ],
)
def test_section_noise(previous: dict[str, Any] | None, noise: bool) -> None:
    event = parse_event(wire("sections.updated", obj={"id": "sec"}, previous=previous))
    assert is_noise(event) is noise


@pytest.mark.parametrize(
    ("previous", "noise"),
    [
        ({"last_sync": "2023-03-23T16:08:33.459Z"}, True),
        ({"state": "running", "error": "", "pause_start": "", "pause_end": "", "launch_date": "x"}, True),
        ({"last_sync": "x", "name": "Old name"}, False),
        ({"ext": {"unrelated": "1"}}, False),
        ({}, True),
    ],
)
def test_district_noise_without_bell_field(previous: dict[str, Any], noise: bool) -> None:
    event = parse_event(wire("districts.updated", obj={"id": "d", "ext": {}}, previous=previous))
    assert is_noise(event) is noise


@pytest.mark.parametrize(
    ("current_ext", "previous", "noise"),
    [
        ({"unrelated": "2"}, {"ext": {"unrelated": "1"}, "last_sync": "x"}, True),
        ({"bells": "{}", "unrelated": "2"}, {"ext": {"unrelated": "1"}}, False),  # diff may omit an added key
        ({}, {"ext": {"bells": "{}"}}, False),  # removed
        ({"bells": "{}"}, {"ext": {"bells": '{"*": []}'}}, False),
        ({"bells": "{}"}, {"name": "Old"}, False),
    ],
)
def test_district_noise_with_bell_field(
    current_ext: dict[str, Any], previous: dict[str, Any], noise: bool
) -> None:
    event = parse_event(wire("districts.updated", obj={"id": "d", "ext": current_ext}, previous=previous))
    assert is_noise(event, bell_schedule_field="bells") is noise


def test_only_updates_can_be_noise() -> None:
    assert not is_noise(parse_event(wire("sections.created", obj={"id": "s"})))
    assert not is_noise(parse_event(wire("districts.deleted", obj={"id": "d"})))
    assert not is_noise(parse_event(wire("schools.updated", previous={})))
    assert not is_noise(
        parse_event(wire("users.updated", obj={"id": "u", "roles": {"teacher": {}}}, previous={}))
    )


# --- ordering ------------------------------------------------------------------------------------


def test_sort_events_by_id_and_dedupe() -> None:
    ids = [
        "64206e4531f12f05cc490cbc",
        "64206e4431f12f05cc49076f",
        "64206E4531F12F05CC490CBB",
        "64206e4431f12f05cc49076f",
    ]
    events = [parse_event({**wire(), "id": i}) for i in ids]
    ordered = sort_events(events)
    assert [e.id.lower() for e in ordered] == [
        "64206e4431f12f05cc49076f",
        "64206e4531f12f05cc490cbb",
        "64206e4531f12f05cc490cbc",
    ]
    assert event_order_key(events[2]) == "64206e4531f12f05cc490cbb"
