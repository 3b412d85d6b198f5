"""User objects (v3 unified users) for generated districts: staff, teachers, admins, students, contacts."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator import names as N
from simulator.ids import SeededIds

JSON = dict[str, Any]
Stamp = Callable[[str], JSON]

TEACHER_SUBJECT_TITLES = (
    "Mathematics",
    "English",
    "Science",
    "Social Studies",
    "Spanish",
    "Art",
    "Music",
    "Physical Education",
    "Computer Science",
    "Special Education",
)


@dataclass
class Person:
    first: str
    last: str
    middle: str
    email: str


class PeopleFactory:
    def __init__(self, rng: random.Random, district_id: str, domain: str) -> None:
        self.rng = rng
        self.district_id = district_id
        self.domain = domain
        self._used: set[str] = set()
        self._n = 0
        self._prev_school: str | None = None

    def person(self, domain: str | None = None) -> Person:
        rng = self.rng
        first, last = rng.choice(N.FIRST_NAMES), rng.choice(N.LAST_NAMES)
        local = f"{N.ascii_fold(first)}.{N.ascii_fold(last)}"
        if local in self._used:
            self._n += 1
            local = f"{local}{self._n}"
        self._used.add(local)
        middle = rng.choice(N.MIDDLE_INITIALS) if rng.random() < 0.6 else ""
        return Person(first, last, middle, f"{local}@{domain or self.domain}")

    def _user(self, user_id: str, stamp: Stamp, person: Person, roles: JSON, email: bool = True) -> JSON:
        name: JSON = {"first": person.first, "last": person.last}
        if person.middle:
            name["middle"] = person.middle
        user: JSON = {"id": user_id, "district": self.district_id, "name": name}
        if email:
            user["email"] = person.email
        user.update(stamp(user_id))
        user["roles"] = roles
        return user

    def _username(self, person: Person) -> str:
        return f"{N.ascii_fold(person.last)[:8]}_{N.ascii_fold(person.first)[:8]}"

    def _staff_role(self, user_id: str, person: Person, schools: list[str], title: str | None) -> JSON:
        role: JSON = {
            "schools": list(schools),
            "staff_id": f"S{user_id[-6:]}",
            "credentials": {"district_username": self._username(person)},
            "legacy_id": user_id,
            "roles": [],
            "ext": {},
        }
        if title is not None:  # None = the SIS sent no title at all (key absent on the wire)
            role["title"] = title
        if self.rng.random() < 0.3:
            role["department"] = self.rng.choice(
                ("Administration", "Student Services", "Math", "Library", "")
            )
        if self.rng.random() < 0.1:
            role["roles"] = ["School Tech Lead"]
        return role

    def _teacher_role(self, user_id: str, person: Person, school_id: str, title: str | None) -> JSON:
        schools = [school_id]
        if self._prev_school is not None and self.rng.random() < 0.03:
            schools.append(self._prev_school)  # itinerant teacher working at two schools
        role: JSON = {
            "school": school_id,
            "schools": schools,
            "sis_id": f"T{user_id[-6:]}",
            "teacher_number": str(self.rng.randrange(100_000, 999_999)),
            "state_id": str(self.rng.randrange(10**8, 10**9)),
            "credentials": {"district_username": self._username(person)},
            "legacy_id": user_id,
            "ext": {"admin_permissions": "Y" if self.rng.random() < 0.05 else "N"},
        }
        if title is not None:
            role["title"] = title
        return role

    def district_admin(self, user_id: str, stamp: Stamp, i: int) -> JSON:
        person = self.person()
        title: str | None = (
            "Superintendent"
            if i == 0
            else "District Administrator"
            if i == 1
            else self.rng.choice(N.DISTRICT_ADMIN_TITLES)
        )
        role: JSON = {"legacy_id": user_id}
        if title is not None:
            role["title"] = title
        # Some Clever Team members have no email in the SIS export.
        return self._user(
            user_id, stamp, person, {"district_admin": role}, email=i < 2 or self.rng.random() > 0.1
        )

    def finish_district_admins(self, users: list[JSON], schools: list[JSON]) -> None:
        """Turn some district admins into multi-role users once school ids exist."""
        admins = [u for u in users if "district_admin" in u["roles"]]
        for n, user in enumerate(admins[1:], start=1):
            if n % 3 != 1:
                continue
            school_ids = [schools[(n * 7) % len(schools)]["id"]]
            person = Person(user["name"]["first"], user["name"]["last"], "", user.get("email", ""))
            user["roles"]["staff"] = self._staff_role(
                user["id"], person, school_ids, "Technology Coordinator"
            )
            if n == 1:  # one user holds all three staff-like roles
                user["roles"]["teacher"] = self._teacher_role(
                    user["id"], person, school_ids[0], "Robotics Teacher"
                )
        # The first school's principal is also on the district's Clever team (staff + district_admin).
        principal_email = str(schools[0]["principal"]["email"]).lower()
        for user in users:
            if str(user.get("email", "")).lower() == principal_email and "staff" in user["roles"]:
                user["roles"]["district_admin"] = {"legacy_id": user["id"], "title": ""}
                break

    def school_staff(
        self, ids: SeededIds, stamp: Stamp, school_id: str, principal: Person, s: int
    ) -> list[JSON]:
        out = []
        uid = ids.next()
        out.append(
            self._user(
                uid, stamp, principal, {"staff": self._staff_role(uid, principal, [school_id], "Principal")}
            )
        )
        ap = self.person()
        uid = ids.next()
        ap_title = "Assistant Principal" if s % 5 else "Vice Principal"
        out.append(self._user(uid, stamp, ap, {"staff": self._staff_role(uid, ap, [school_id], ap_title)}))
        for _ in range(self.rng.randint(6, 9)):
            person, uid = self.person(), ids.next()
            title = self.rng.choice(N.STAFF_TITLES)
            out.append(
                self._user(
                    uid,
                    stamp,
                    person,
                    {"staff": self._staff_role(uid, person, [school_id], title)},
                    email=self.rng.random() > 0.05,
                )
            )
        return out

    def school_teachers(
        self, ids: SeededIds, stamp: Stamp, school_id: str, kind: str, grades: tuple[str, ...]
    ) -> list[JSON]:
        rng = self.rng
        out = []
        for t in range(rng.randint(44, 56)):
            person, uid = self.person(), ids.next()
            grade = grades[t % len(grades)]
            title: str | None
            if kind == "Elementary School":
                title = "Kindergarten Teacher" if grade == "Kindergarten" else f"Grade {grade} Teacher"
            else:
                level = "Middle School" if kind == "Middle School" else "High School"
                title = f"{level} {rng.choice(TEACHER_SUBJECT_TITLES)} Teacher"
            roll = rng.random()
            if roll < 0.04:
                title = ""
            elif roll < 0.07:
                title = None
            roles: JSON = {"teacher": self._teacher_role(uid, person, school_id, title)}
            if rng.random() < 0.05:  # teacher + staff in one user object
                roles["staff"] = self._staff_role(
                    uid,
                    person,
                    [school_id],
                    rng.choice(("Instructional Coach", "Department Chair", "Math Specialist")),
                )
            out.append(self._user(uid, stamp, person, roles, email=rng.random() > 0.04))
        self._prev_school = school_id
        return out

    def school_students(
        self, ids: SeededIds, stamp: Stamp, school_id: str, grades: tuple[str, ...], count: int
    ) -> list[JSON]:
        rng = self.rng
        out = []
        for _ in range(count):
            person, uid = self.person(domain=f"students.{self.domain}"), ids.next()
            role: JSON = {
                "school": school_id,
                "schools": [school_id],
                "grade": rng.choice(grades),
                "sis_id": str(rng.randrange(10**8, 10**9)),
                "student_number": uid[-7:],
                "state_id": str(rng.randrange(10**8, 10**9)),
                "dob": f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(2007, 2019)}",
                "gender": rng.choice(("M", "F", "X", "")),
                "enrollments": [],
                "hispanic_ethnicity": rng.choice(("Y", "N", "")),
                "race": "Unknown",
                "graduation_year": "",
                "credentials": {"district_username": self._username(person)},
                "legacy_id": uid,
                "ext": {},
            }
            out.append(self._user(uid, stamp, person, {"student": role}, email=rng.random() > 0.3))
        return out

    def school_contacts(self, ids: SeededIds, stamp: Stamp, students: list[JSON]) -> list[JSON]:
        rng = self.rng
        out = []
        for student in students[: max(1, len(students) // 3)]:
            person, uid = self.person(domain="example.net"), ids.next()
            role: JSON = {
                "sis_id": f"C{uid[-6:]}",
                "phone": f"(555) 555-{rng.randrange(1000, 9999)}",
                "phone_type": rng.choice(("Cell", "Home", "Work")),
                "legacy_id": uid,
                "student_relationships": [
                    {"student": student["id"], "relationship": "Parent", "type": "Parent/Guardian"}
                ],
            }
            out.append(self._user(uid, stamp, person, {"contact": role}, email=rng.random() > 0.2))
        return out
