from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.positions import (
    is_newer_or_same,
    is_position,
    max_position,
    normalize_position,
    position_from_time,
    position_time,
)

EVENT_A = "64206e4431f12f05cc49076f"  # 2023-03-26T16:09:40Z
EVENT_B = "64206e4531f12f05cc490cbc"  # one second later


def test_position_from_time_is_seconds_then_zeros() -> None:
    dt = datetime(2023, 3, 26, 16, 9, 40, 999_000, tzinfo=UTC)
    assert position_from_time(dt) == "64206e44" + "0" * 16
    assert position_from_time(datetime(1970, 1, 1, tzinfo=UTC)) == "0" * 24


def test_position_from_time_converts_zones() -> None:
    eastern = timezone(timedelta(hours=-4))
    assert position_from_time(datetime(2023, 3, 26, 12, 9, 40, tzinfo=eastern)) == "64206e44" + "0" * 16


def test_position_from_time_refuses_naive_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        position_from_time(datetime(2023, 1, 1))
    with pytest.raises(ValueError, match="out of range"):
        position_from_time(datetime(1969, 12, 31, tzinfo=UTC))


def test_synthetic_position_orders_against_event_ids() -> None:
    start = position_from_time(datetime(2023, 3, 26, 16, 9, 40, tzinfo=UTC))
    assert start < EVENT_A < EVENT_B  # an event in the same second as the run start is newer
    assert position_from_time(datetime(2023, 3, 26, 16, 9, 41, tzinfo=UTC)) > EVENT_A
    assert position_time(EVENT_A) == datetime(2023, 3, 26, 16, 9, 40, tzinfo=UTC)
    assert position_time(start) == datetime(2023, 3, 26, 16, 9, 40, tzinfo=UTC)


def test_is_newer_or_same() -> None:
    assert is_newer_or_same(EVENT_B, EVENT_A)
    assert not is_newer_or_same(EVENT_A, EVENT_B)
    assert is_newer_or_same(EVENT_A, EVENT_A)
    assert is_newer_or_same(EVENT_A.upper(), EVENT_A)
    assert is_newer_or_same(EVENT_A, None)
    assert is_newer_or_same(None, None)
    assert not is_newer_or_same(None, EVENT_A)


def test_max_position() -> None:
    assert max_position(EVENT_A, None, EVENT_B) == EVENT_B
    assert max_position([EVENT_B, None], EVENT_A) == EVENT_B
    assert max_position(EVENT_A.upper()) == EVENT_A
    assert max_position() is None
    assert max_position(None, []) is None


def test_is_position_and_normalize() -> None:
    assert is_position(EVENT_A) and is_position(EVENT_A.upper())
    assert not is_position("64206e44") and not is_position(None) and not is_position("z" * 24)
    assert normalize_position(EVENT_A.upper()) == EVENT_A
    with pytest.raises(ValueError):
        normalize_position("not-a-position")
