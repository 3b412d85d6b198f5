"""Bell schedules: Clever has none, so a school's schedule is built from what there is.

Sources, strongest first: a schedule an admin entered by hand; periods with times that the district
carries in a configured ``ext`` field of its Clever district object; the distinct ``period`` labels
of the school's sections, without times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from domain._coerce import text
from domain.entities import BellPeriod, BellSchedule, Classroom, ScheduleSource

DEFAULT_KEYS: tuple[str, ...] = ("*", "default")  # district-wide schedule inside the ext field
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_DIGITS = re.compile(r"[0-9]+")


def _label_key(label: str) -> tuple[int, int, list[tuple[int, int | str]], str]:
    # Whole numbers first by value; others by text with digit runs compared as numbers.
    if _DIGITS.fullmatch(label):
        return (0, int(label), [], label)
    parts = re.split(r"([0-9]+)", label.casefold())
    natural: list[tuple[int, int | str]] = [
        (0, int(p)) if _DIGITS.fullmatch(p) else (1, p) for p in parts if p
    ]
    return (1, 0, natural, label)


def sort_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct labels: "1", "2", ..., "10", then the rest alphabetically ("Period 2" < "Period 10")."""
    return tuple(sorted(set(labels), key=_label_key))


def period_labels(classrooms: Iterable[Classroom]) -> dict[str, tuple[str, ...]]:
    """Distinct, naturally sorted period labels per school id (blank periods are skipped)."""
    found: dict[str, set[str]] = {}
    for classroom in classrooms:
        label = text(classroom.period)
        if label and classroom.school_clever_id:
            found.setdefault(classroom.school_clever_id, set()).add(label)
    return {school: sort_labels(labels) for school, labels in found.items()}


def _time(value: Any) -> str | None:
    match = _TIME.match(text(value) or "")
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    return f"{hours:02d}:{minutes:02d}" if hours < 24 and minutes < 60 else None


def _periods(entries: Any) -> tuple[BellPeriod, ...] | None:
    if not isinstance(entries, list) or not entries:
        return None
    periods: list[BellPeriod] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            return None
        label = text(entry.get("period"))
        start = _time(entry.get("start", entry.get("start_time")))
        end = _time(entry.get("end", entry.get("end_time")))
        if label is None or start is None or end is None or start >= end:
            return None
        periods.append(BellPeriod(label=label, start_time=start, end_time=end))
    if len({p.label for p in periods}) != len(periods):
        return None  # the same label twice cannot be mapped to one time
    return tuple(periods)


def schedule_from_ext(
    district_ext: Mapping[str, Any] | None, field_name: str | None, school_id: str
) -> tuple[BellPeriod, ...] | None:
    """Periods with times for one school from the district's ``ext[field_name]``, or None.

    Expected shape (an object, or the same as a JSON string, since SIS extension fields are often
    text): ``{"<school_id>": [{"period": "1", "start": "08:00", "end": "08:50"}, ...], "*": [...]}``.
    The school's own entry wins over the default (``"*"``, then ``"default"``). Anything malformed
    (bad time, start not before end, duplicate label, empty list) gives None for that school:
    a half-read schedule would be worse than none. An invalid school entry does not fall back to
    the default. Times are normalised to ``HH:MM``.
    """
    return periods_from_ext(ext_schedules(district_ext, field_name), school_id)


def ext_schedules(district_ext: Mapping[str, Any] | None, field_name: str | None) -> Mapping[str, Any] | None:
    """The district's ``ext[field_name]`` as a mapping (parsed when it is JSON text), or None.

    Read once for all of a district's schools: the text holds every school's schedule, so
    parsing it again for each school took time in the square of their number."""
    if not field_name or not isinstance(district_ext, Mapping):
        return None
    value = district_ext.get(field_name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def periods_from_ext(schedules: Mapping[str, Any] | None, school_id: str) -> tuple[BellPeriod, ...] | None:
    """One school's periods from what `ext_schedules` read (see `schedule_from_ext`)."""
    if schedules is None:
        return None
    for key in (school_id, *DEFAULT_KEYS):
        if key in schedules:
            return _periods(schedules[key])
    return None


def clever_schedule(
    school_id: str, labels: Iterable[str], ext_periods: tuple[BellPeriod, ...] | None
) -> BellSchedule:
    """The schedule Clever data gives a school: the ext periods when present, else bare labels."""
    if ext_periods:
        periods = tuple(ext_periods)
    else:
        periods = tuple(BellPeriod(label=label) for label in sort_labels(labels))
    return BellSchedule(school_clever_id=school_id, source=ScheduleSource.CLEVER, periods=periods)


def choose_schedule(manual: BellSchedule | None, clever: BellSchedule) -> BellSchedule:
    """A manual schedule always wins (even an empty one: the admin decided); else Clever's."""
    return manual if manual is not None else clever
