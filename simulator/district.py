"""Seeded, deterministic generator of a Clever district (v3.0 object shapes as recorded on the wire).

Per school: a principal (staff user whose email is the school's ``principal.email``), an assistant principal,
other staff with free-text titles (some empty or missing), ~50 teachers, a few teacher+staff users, ~200
sections, 20-40 students and some contacts. District-wide: district admins (some also staff, one with all
three staff-like roles), terms with and without dates, a course catalogue and ``ext.bell_schedule`` on the
district object for most schools.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator import names as N
from simulator.classes import bell_schedule, build_sections, build_terms
from simulator.ids import SeededIds, id_timestamp, machine_part
from simulator.people import PeopleFactory

JSON = dict[str, Any]
ROLES: tuple[str, ...] = ("district_admin", "staff", "teacher", "student", "contact")
BASE_TIMESTAMP = 1_688_169_600  # 2023-07-01: generated data looks like it was imported last summer


def iso(ts: int, millis: int = 0) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


@dataclass
class District:
    """Expected data of one generated district, as plain dicts in ascending id order."""

    seed: int
    index: int
    district: JSON
    schools: list[JSON] = field(default_factory=list)
    users: list[JSON] = field(default_factory=list)
    sections: list[JSON] = field(default_factory=list)
    terms: list[JSON] = field(default_factory=list)
    courses: list[JSON] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.district["id"])

    @property
    def name(self) -> str:
        return str(self.district["name"])

    def users_by_role(self) -> dict[str, list[JSON]]:
        """Role -> users having that role (a multi-role user is listed under each of its roles)."""
        out: dict[str, list[JSON]] = {role: [] for role in ROLES}
        for user in self.users:
            for role in user["roles"]:
                out[role].append(user)
        return out

    @property
    def students(self) -> list[JSON]:
        return [u for u in self.users if "student" in u["roles"]]

    @property
    def contacts(self) -> list[JSON]:
        return [u for u in self.users if "contact" in u["roles"]]

    def staff_like_users(self) -> list[JSON]:
        """Users with at least one of district_admin / staff / teacher (what a staff sync imports)."""
        wanted = {"district_admin", "staff", "teacher"}
        return [u for u in self.users if wanted.intersection(u["roles"])]

    def counts(self) -> dict[str, int]:
        by_role = self.users_by_role()
        counts = {
            "schools": len(self.schools),
            "sections": len(self.sections),
            "terms": len(self.terms),
            "courses": len(self.courses),
            "users": len(self.users),
        }
        counts.update({f"users_{role}": len(v) for role, v in by_role.items()})
        return counts


class _Gen:
    def __init__(
        self,
        seed: int,
        index: int,
        schools: int,
        students: tuple[int, int],
        sections_per_teacher: tuple[int, int],
    ) -> None:
        self.rng = random.Random(f"district:{seed}:{index}")
        self.seed, self.index, self.n_schools = seed, index, schools
        self.students_range, self.spt = students, sections_per_teacher
        self.ids = SeededIds(BASE_TIMESTAMP + (seed % 997) * 3600, machine_part("district", seed, index))
        self.district_id = self.ids.next()
        self.domain = f"d{index}s{seed}.example.org"
        self.people = PeopleFactory(self.rng, self.district_id, self.domain)

    def stamp(self, obj_id: str) -> JSON:
        created = iso(id_timestamp(obj_id), int(obj_id[-3:], 16))
        return {"created": created, "last_modified": created}

    def build(self) -> District:
        rng = self.rng
        name = N.DISTRICT_NAMES[(self.seed + self.index) % len(N.DISTRICT_NAMES)]
        out = District(self.seed, self.index, {})
        out.terms = build_terms(self.ids, self.district_id)
        out.courses = [self._course(i, c) for i, c in enumerate(N.COURSES)]
        out.users.extend(self._district_admins())
        bell: dict[str, list[JSON]] = {}
        for s in range(self.n_schools):
            school, users, sections = self._school(s, out.terms, out.courses)
            out.schools.append(school)
            out.users.extend(users)
            out.sections.extend(sections)
            if rng.random() < 0.6:
                bell[school["id"]] = bell_schedule(rng, school["low_grade"] in N.ELEMENTARY_GRADES)
        self.people.finish_district_admins(out.users, out.schools)
        contact_user = out.users[0]
        out.district = {
            "id": self.district_id,
            "name": name,
            "sis_type": "sftp",
            "state": "running",
            "error": "",
            "launch_date": "2023-07-31",
            "last_sync": iso(BASE_TIMESTAMP + 86_400 * 30),
            "login_methods": ["Clever Badges", "Clever Passwords"],
            "portal_url": f"https://clever.com/in/{N.ascii_fold(name)[:24]}{self.district_id[-6:]}",
            "mdr_number": f"{rng.randrange(10**7, 10**8)}",
            "nces_id": f"{rng.randrange(10**6, 10**7)}",
            "district_contact": {
                "id": contact_user["id"],
                "district": self.district_id,
                "email": contact_user.get("email", ""),
                "name": dict(contact_user["name"]),
                "title": "Superintendent",
            },
            "ext": {"bell_schedule": bell},
        }
        out.users.sort(key=lambda u: u["id"])  # district admins finished last keep their early ids
        return out

    def _course(self, i: int, spec: tuple[str, str, str]) -> JSON:
        return {
            "id": self.ids.next(),
            "district": self.district_id,
            "name": spec[0],
            "number": f"{spec[2]}-{100 + i}",
        }

    def _district_admins(self) -> list[JSON]:
        count = 2 + self.n_schools // 25
        return [self.people.district_admin(self.ids.next(), self.stamp, i) for i in range(count)]

    def _school(self, s: int, terms: list[JSON], courses: list[JSON]) -> tuple[JSON, list[JSON], list[JSON]]:
        rng, people = self.rng, self.people
        school_id = self.ids.next()
        kind = ("Elementary School", "Middle School", "High School")[
            0 if s % 20 < 11 else 1 if s % 20 < 16 else 2
        ]
        grades = {
            "Elementary School": N.ELEMENTARY_GRADES,
            "Middle School": N.MIDDLE_GRADES,
            "High School": N.HIGH_GRADES,
        }[kind]
        place = N.PLACE_PREFIXES[(s // len(N.PLACES)) % len(N.PLACE_PREFIXES)] + N.PLACES[s % len(N.PLACES)]
        city, state, zip3 = N.CITIES[(self.seed + s) % len(N.CITIES)]
        number = (
            f"{s + 1:02d}{'KMH'[('Elementary School', 'Middle School', 'High School').index(kind)]}{s:03d}"
        )
        principal = people.person()
        ext: JSON = {"charter_school": "Y" if rng.random() < 0.1 else "N"}
        if rng.random() < 0.3:
            ext["title_1"] = "Y"
        # Every 7th school writes the principal's email in another case than the user record: Clever does not
        # normalise emails, so a sync has to compare them case-insensitively.
        principal_email = principal.email.upper() if s % 7 == 3 else principal.email
        school: JSON = {
            "id": school_id,
            "district": self.district_id,
            "name": f"{place} {kind}",
            "sis_id": number,
            "school_number": number,
            "state_id": str(rng.randrange(10_000, 99_999)),
            "nces_id": f"{rng.randrange(10**11, 10**12)}",
            "phone": f"(555) 555-{rng.randrange(1000, 9999)}",
            "low_grade": "PreKindergarten" if kind == "Elementary School" and s % 3 == 0 else grades[0],
            "high_grade": grades[-1],
            "location": {
                "address": f"{rng.randrange(10, 999)} {rng.choice(N.STREETS)}",
                "city": city,
                "state": state,
                "zip": f"{zip3}{rng.randrange(10, 99)}",
            },
            "principal": {"name": f"{principal.first} {principal.last}", "email": principal_email},
            **self.stamp(school_id),
            "ext": ext,
        }
        users = people.school_staff(self.ids, self.stamp, school_id, principal, s)
        teachers = people.school_teachers(self.ids, self.stamp, school_id, kind, grades)
        users.extend(teachers)
        students = people.school_students(
            self.ids, self.stamp, school_id, grades, rng.randint(*self.students_range)
        )
        users.extend(students)
        users.extend(people.school_contacts(self.ids, self.stamp, students))
        sections = build_sections(
            self.rng,
            self.ids,
            self.stamp,
            self.district_id,
            school_id,
            kind,
            grades,
            teachers,
            students,
            terms,
            courses,
            self.spt,
        )
        return school, users, sections


def generate_district(
    seed: int,
    schools: int,
    *,
    index: int = 0,
    students_per_school: tuple[int, int] = (20, 40),
    sections_per_teacher: tuple[int, int] = (3, 5),
) -> District:
    """Build one district. Same ``(seed, schools, index)`` -> identical data (ids included).

    ``index`` distinguishes several districts served by one simulator (ids are unique across them).
    """
    if not 1 <= schools <= 5000:
        raise ValueError("schools must be between 1 and 5000")
    return _Gen(seed, index, schools, students_per_school, sections_per_teacher).build()
