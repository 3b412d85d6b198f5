"""Class structure of a generated district: terms, sections (classrooms) and per-school bell schedules."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from simulator import names as N
from simulator.ids import SeededIds

JSON = dict[str, Any]


def build_terms(ids: SeededIds, district_id: str) -> list[JSON]:
    """District terms: dated semesters/quarters/years, one with only a name, one without an end date."""
    y = 2024
    specs: list[tuple[str | None, str | None, str | None]] = [
        ("S1", f"{y}-08-19", f"{y}-12-20"),
        ("S2", f"{y + 1}-01-06", f"{y + 1}-06-06"),
        ("Y1", f"{y}-08-19", f"{y + 1}-06-06"),
        ("Q1", f"{y}-08-19", f"{y}-10-18"),
        ("Q2", f"{y}-10-21", f"{y}-12-20"),
        ("Q3", f"{y + 1}-01-06", f"{y + 1}-03-21"),
        ("Q4", f"{y + 1}-03-24", f"{y + 1}-06-06"),
        ("Summer Session", None, None),
        ("Y1", f"{y - 1}-08-21", f"{y}-06-07"),
        ("Trimester 2", f"{y}-12-02", None),
    ]
    out: list[JSON] = []
    for term_name, start, end in specs:
        term: JSON = {"id": ids.next(), "district": district_id}
        if term_name is not None:
            term["name"] = term_name
        if start is not None:
            term["start_date"] = start
        if end is not None:
            term["end_date"] = end
        out.append(term)
    return out


def build_sections(
    rng: random.Random,
    ids: SeededIds,
    stamp: Callable[[str], JSON],
    district_id: str,
    school_id: str,
    kind: str,
    grades: tuple[str, ...],
    teachers: list[JSON],
    students: list[JSON],
    terms: list[JSON],
    courses: list[JSON],
    sections_per_teacher: tuple[int, int],
) -> list[JSON]:
    """~4 sections per teacher; homerooms in elementary schools, some co-taught, short student lists."""
    homeroom_course = next(c for c in courses if c["name"] == "Homeroom")
    student_ids = [u["id"] for u in students]
    teacher_ids = [u["id"] for u in teachers]
    dated_terms = [t for t in terms if "start_date" in t][:7]
    out: list[JSON] = []
    for t_index, teacher in enumerate(teachers):
        for k in range(rng.randint(*sections_per_teacher)):
            homeroom = k == 0 and kind == "Elementary School"
            course = homeroom_course if homeroom else rng.choice(courses)
            period = "Homeroom" if homeroom else str(rng.randint(1, 8))
            grade = grades[t_index % len(grades)]
            co = [tid for tid in rng.sample(teacher_ids, min(2, len(teacher_ids))) if tid != teacher["id"]]
            teachers_arr = (
                [teacher["id"], *co[: rng.randint(1, 2)]] if rng.random() < 0.1 else [teacher["id"]]
            )
            section_id = ids.next()
            last = teacher["name"]["last"]
            section: JSON = {
                "id": section_id,
                "district": district_id,
                "school": school_id,
                "name": f"{course['name']} - {last} - {period}",
                "sis_id": f"{section_id[-6:]}",
                "section_number": f"{t_index + 1}{k + 1:02d}",
                "period": period,
                "subject": "homeroom/advisory" if homeroom else _subject_of(course["name"]),
                "grade": grade,
                "teacher": teacher["id"],
                "teachers": teachers_arr,
                "students": sorted(rng.sample(student_ids, min(len(student_ids), rng.randint(3, 8)))),
                "term_id": None if rng.random() < 0.02 else rng.choice(dated_terms)["id"],
                "course": course["id"],
                **stamp(section_id),
                "ext": {"classroom": f"{'ABCDEFG'[t_index % 7]}{rng.randint(1, 40)}"},
            }
            out.append(section)
    return out


def _subject_of(course_name: str) -> str:
    for name, subject, _ in N.COURSES:
        if name == course_name:
            return subject
    return "other"


def bell_schedule(rng: random.Random, homeroom: bool) -> list[JSON]:
    """Periods "1".."8" (plus a "Homeroom" slot where wanted) with HH:MM start and end times."""
    start = 7 * 60 + rng.choice((30, 45, 50, 60, 75))
    length = rng.choice((45, 50, 55))
    out: list[JSON] = []
    if homeroom:
        out.append({"period": "Homeroom", "start": _hhmm(start), "end": _hhmm(start + 10)})
        start += 15
    for p in range(1, 9):
        out.append({"period": str(p), "start": _hhmm(start), "end": _hhmm(start + length)})
        start += length + 5
    return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
