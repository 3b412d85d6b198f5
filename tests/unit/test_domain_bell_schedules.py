from __future__ import annotations

import json
from typing import Any

import pytest

from domain.bell_schedules import (
    choose_schedule,
    clever_schedule,
    ext_schedules,
    period_labels,
    periods_from_ext,
    schedule_from_ext,
    sort_labels,
)
from domain.entities import BellPeriod, BellSchedule, Classroom, ScheduleSource


def room(school: str, period: str | None, cid: str = "c") -> Classroom:
    return Classroom(cid, school, "n", period, None, None, (), None, None, None, None)


def test_period_labels_per_school_distinct_and_natural() -> None:
    rooms = [room("s1", p) for p in ["10", "2", "1", "Homeroom", "2", " 3 ", "", None, "Advisory"]]
    rooms += [room("s2", "Period 10"), room("s2", "Period 2"), room("", "7")]
    assert period_labels(rooms) == {
        "s1": ("1", "2", "3", "10", "Advisory", "Homeroom"),
        "s2": ("Period 2", "Period 10"),
    }


def test_sort_labels_edge_cases() -> None:
    # "01" and "1" are different labels; a superscript digit is text, not a number.
    assert sort_labels(["b", "A", "0", "01", "9", "²", "lunch"]) == ("0", "01", "9", "A", "b", "lunch", "²")


SCHEDULE = [{"period": "1", "start": "08:00", "end": "08:50"}, {"period": 2, "start": "8:55", "end": "09:45"}]
EXPECTED = (BellPeriod("1", "08:00", "08:50"), BellPeriod("2", "08:55", "09:45"))


def test_schedule_for_school() -> None:
    assert schedule_from_ext({"bells": {"s1": SCHEDULE}}, "bells", "s1") == EXPECTED


@pytest.mark.parametrize("key", ["*", "default"])
def test_district_wide_default(key: str) -> None:
    assert schedule_from_ext({"bells": {key: SCHEDULE}}, "bells", "s9") == EXPECTED


def test_school_entry_beats_default_and_star_beats_default() -> None:
    other = [{"period": "A", "start": "07:00", "end": "07:30"}]
    ext = {"bells": {"s1": SCHEDULE, "*": other, "default": []}}
    assert schedule_from_ext(ext, "bells", "s1") == EXPECTED
    assert schedule_from_ext(ext, "bells", "s2") == (BellPeriod("A", "07:00", "07:30"),)


def test_json_string_value_is_accepted() -> None:
    assert schedule_from_ext({"bells": json.dumps({"s1": SCHEDULE})}, "bells", "s1") == EXPECTED


def test_text_read_once_serves_every_school_as_reading_it_for_each_would() -> None:
    other = [{"period": "A", "start": "07:00", "end": "07:30"}]
    text = json.dumps({"s1": SCHEDULE, "s2": [{"period": "1", "start": "9:00", "end": "8:00"}], "*": other})
    read = ext_schedules({"bells": text}, "bells")
    assert read == json.loads(text)
    for school in ("s1", "s2", "s3"):
        assert periods_from_ext(read, school) == schedule_from_ext({"bells": text}, "bells", school)
    assert [periods_from_ext(read, school) for school in ("s1", "s2", "s3")] == [
        EXPECTED,
        None,  # an invalid entry of its own, not the default
        (BellPeriod("A", "07:00", "07:30"),),
    ]


@pytest.mark.parametrize(
    ("ext", "field"),
    [
        (None, "bells"),
        ({"bells": {}}, None),
        ({}, "bells"),
        ({"bells": "{not json"}, "bells"),
        ({"bells": "[1]"}, "bells"),
    ],
)
def test_nothing_to_read_from_ext(ext: Any, field: str | None) -> None:
    assert periods_from_ext(ext_schedules(ext, field), "s1") is None


def test_start_time_aliases() -> None:
    entry = [{"period": "1", "start_time": "08:00", "end_time": "08:50"}]
    assert schedule_from_ext({"b": {"s1": entry}}, "b", "s1") == (BellPeriod("1", "08:00", "08:50"),)


@pytest.mark.parametrize(
    "value",
    [
        {"s1": [{"period": "1", "start": "8am", "end": "08:50"}]},
        {"s1": [{"period": "1", "start": "24:00", "end": "24:30"}]},
        {"s1": [{"period": "1", "start": "08:60", "end": "09:00"}]},
        {"s1": [{"period": "1", "start": "09:00", "end": "08:00"}]},
        {"s1": [{"period": "1", "start": "09:00", "end": "09:00"}]},
        {"s1": [{"period": "", "start": "08:00", "end": "09:00"}]},
        {"s1": [{"start": "08:00", "end": "09:00"}]},
        {"s1": [SCHEDULE[0], SCHEDULE[0]]},
        {"s1": []},
        {"s1": "nope"},
        {"s1": ["nope"]},
        {"s1": [{"period": "1", "start": "08:00"}]},
        "{not json",
        "[1, 2]",
        42,
        None,
    ],
)
def test_invalid_schedules_give_none(value: Any) -> None:
    assert schedule_from_ext({"bells": value}, "bells", "s1") is None


def test_invalid_school_entry_does_not_fall_back_to_default() -> None:
    ext = {"bells": {"s1": [{"period": "1", "start": "bad", "end": "09:00"}], "*": SCHEDULE}}
    assert schedule_from_ext(ext, "bells", "s1") is None


@pytest.mark.parametrize(
    ("ext", "field"),
    [(None, "bells"), ({}, "bells"), ({"bells": {"*": SCHEDULE}}, None), ({"x": {}}, "bells")],
)
def test_no_field_or_no_ext_gives_none(ext: Any, field: str | None) -> None:
    assert schedule_from_ext(ext, field, "s1") is None


def test_clever_schedule_prefers_ext_periods() -> None:
    schedule = clever_schedule("s1", ["1", "2", "3"], EXPECTED)
    assert schedule == BellSchedule("s1", ScheduleSource.CLEVER, EXPECTED)


def test_clever_schedule_falls_back_to_labels_without_times() -> None:
    for ext_periods in (None, ()):
        schedule = clever_schedule("s1", ["2", "10", "1"], ext_periods)
        assert schedule.source is ScheduleSource.CLEVER
        assert schedule.periods == (BellPeriod("1"), BellPeriod("2"), BellPeriod("10"))


def test_manual_schedule_always_wins() -> None:
    clever = clever_schedule("s1", ["1"], EXPECTED)
    manual = BellSchedule("s1", ScheduleSource.MANUAL, (BellPeriod("A", "07:30", "08:15"),))
    assert choose_schedule(manual, clever) is manual
    empty_manual = BellSchedule("s1", ScheduleSource.MANUAL, ())
    assert choose_schedule(empty_manual, clever) is empty_manual
    assert choose_schedule(None, clever) is clever
