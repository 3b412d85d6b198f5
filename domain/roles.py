"""Which rostersync role a Clever staff user gets, and why.

Precedence (first match wins), as in the design:

0. the district's own ``RoleRule`` list, in order: a rule matches when its pattern is found
   (case-insensitive ``re.search``) in any of the user's titles;
1. the Clever ``district_admin`` role, or a title naming a "District Administrator" → DISTRICT_ADMIN;
2. a title naming a "Principal" or "School Administrator" (for the user's schools), or the user's
   email being a school's ``principal.email`` (for that principal's schools) → SCHOOL_ADMIN;
3. a ``teacher`` role, or a ``staff`` role whose title says Teacher or Staff or is empty → CONTRIBUTOR;
4. anything else → RESTRICTED_VIEWER.

Choices worth knowing:

* Titles are matched on whole words after Unicode NFKC normalisation. "Assistant Principal",
  "Vice-Principal" and "PRINCIPAL" match; "Principals", "Principalship" and the possessive
  "Principal's Secretary" (someone working *for* the principal) do not.
* Only the exact phrase "School Administrator" counts; the bare "School Admin" does not, because
  some districts stamp it on every staff member (write a district rule if yours means it).
* A SCHOOL_ADMIN result with no school to administer (title match but no schools, or a district
  rule on a user without schools) does not apply; evaluation falls through to the next rule.
* An email match does not require the principal's school to be among the user's schools: Clever
  keeps one ``principal.email`` per school and nothing else says who runs it.
* An invalid district rule pattern never matches (it is reported by ``invalid_rules``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from domain._coerce import id_list, mapping, text, unique
from domain.entities import Role, RoleRule, Tenant
from domain.privacy import staff_roles

_NOT_POSSESSIVE = r"(?!['\u2019]s\b)"  # "Principal's Secretary" works for the principal
_DISTRICT_ADMIN_TITLE = re.compile(r"\bdistrict[\s\-]+administrator\b" + _NOT_POSSESSIVE, re.IGNORECASE)
_SCHOOL_ADMIN_TITLE = re.compile(
    r"\b(?:principal|school[\s\-]+administrator)\b" + _NOT_POSSESSIVE, re.IGNORECASE
)
_TEACHER_OR_STAFF_TITLE = re.compile(r"\b(?:teachers?|staff)\b", re.IGNORECASE)

RoleResult = tuple[Role, str, tuple[str, ...]]


def normalize_email(email: str | None) -> str | None:
    """Lower-cased, stripped email, or None; Clever does not normalise emails itself."""
    value = text(email)
    return value.lower() if value else None


def principal_index(schools: Iterable[Tenant]) -> dict[str, tuple[str, ...]]:
    """Map normalised principal email → sorted ids of the schools it is principal of."""
    index: dict[str, set[str]] = {}
    for school in schools:
        email = normalize_email(school.principal_email)
        if email:
            index.setdefault(email, set()).add(school.clever_id)
    return {email: tuple(sorted(ids)) for email, ids in index.items()}


def user_titles(user_obj: Mapping[str, Any]) -> tuple[str, ...]:
    """Non-empty titles of the district_admin, staff and teacher roles, in that order, de-duplicated."""
    roles = mapping(user_obj.get("roles"))
    found = [text(mapping(roles.get(name)).get("title")) for name in ("district_admin", "staff", "teacher")]
    return unique([t for t in found if t])


def user_school_ids(user_obj: Mapping[str, Any]) -> tuple[str, ...]:
    """Sorted union of staff.schools, teacher.schools and teacher.school."""
    roles = mapping(user_obj.get("roles"))
    staff, teacher = mapping(roles.get("staff")), mapping(roles.get("teacher"))
    ids = id_list(staff.get("schools")) + id_list(teacher.get("schools"))
    primary = text(teacher.get("school"))
    if primary:
        ids.append(primary)
    return tuple(sorted(set(ids)))


def _norm(title: str) -> str:
    return unicodedata.normalize("NFKC", title)


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return None


def invalid_rules(rules: Iterable[RoleRule]) -> list[RoleRule]:
    """Rules whose pattern is not a valid regular expression (they never match)."""
    return [rule for rule in rules if _compile(rule.pattern) is None]


def _first_title(pattern: re.Pattern[str], titles: Sequence[str]) -> str | None:
    return next((t for t in titles if pattern.search(_norm(t))), None)


def _district_rule(
    rules: Sequence[RoleRule], titles: Sequence[str], schools: tuple[str, ...]
) -> RoleResult | None:
    for rule in rules:
        compiled = _compile(rule.pattern)
        title = _first_title(compiled, titles) if compiled else None
        if title is None:
            continue
        if rule.role is Role.SCHOOL_ADMIN and not schools:
            continue  # nothing to administer: let later rules decide
        reason = f"district rule /{rule.pattern}/ matched title '{title}'"
        return rule.role, reason, schools if rule.role is Role.SCHOOL_ADMIN else ()
    return None


@dataclass(frozen=True, slots=True)
class StaffFacts:
    """What the role decision reads from a Clever user, read once (the mapping stores it too)."""

    held: tuple[str, ...]  # staff-side Clever roles
    titles: tuple[str, ...]
    schools: tuple[str, ...]
    email: str | None  # normalised
    staff_title: str | None


def staff_facts(user_obj: Mapping[str, Any]) -> StaffFacts:
    roles = mapping(mapping(user_obj).get("roles"))
    return StaffFacts(
        held=staff_roles(user_obj),
        titles=user_titles(user_obj),
        schools=user_school_ids(user_obj),
        email=normalize_email(mapping(user_obj).get("email")),
        staff_title=text(mapping(roles.get("staff")).get("title")),
    )


def resolve_role(
    user_obj: Mapping[str, Any],
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule] = (),
) -> RoleResult:
    """Decide (role, human-readable reason, administered school ids) for one Clever user object.

    ``principals`` maps normalised principal email (see ``normalize_email``) → school ids. The
    school ids are non-empty only for SCHOOL_ADMIN. Users without a staff-side role get
    RESTRICTED_VIEWER (the mapping never stores them).
    """
    return role_from_facts(staff_facts(user_obj), principals, rules)


def role_from_facts(
    facts: StaffFacts, principals: Mapping[str, Sequence[str]], rules: Sequence[RoleRule] = ()
) -> RoleResult:
    held, titles, schools = facts.held, facts.titles, facts.schools
    if not held:
        return Role.RESTRICTED_VIEWER, "no district_admin, staff or teacher role", ()

    by_rule = _district_rule(rules, titles, schools)
    if by_rule is not None:
        return by_rule

    if "district_admin" in held:
        return Role.DISTRICT_ADMIN, "Clever role district_admin", ()
    title = _first_title(_DISTRICT_ADMIN_TITLE, titles)
    if title:
        return Role.DISTRICT_ADMIN, f"title '{title}' names a District Administrator", ()

    admin_schools: set[str] = set()
    reasons: list[str] = []
    title = _first_title(_SCHOOL_ADMIN_TITLE, titles)
    if title and schools:
        admin_schools.update(schools)
        reasons.append(f"title '{title}' names a Principal or School Administrator")
    email = facts.email
    led = [s for s in principals.get(email, ()) if s] if email else []
    if led:
        admin_schools.update(led)
        reasons.append(f"email is the principal email of {len(set(led))} school(s)")
    if admin_schools:
        return Role.SCHOOL_ADMIN, " and ".join(reasons), tuple(sorted(admin_schools))

    if "teacher" in held:
        return Role.CONTRIBUTOR, "Clever role teacher", ()
    if "staff" in held:
        staff_title = facts.staff_title
        if staff_title is None:
            return Role.CONTRIBUTOR, "Clever role staff with no title", ()
        if _TEACHER_OR_STAFF_TITLE.search(_norm(staff_title)):
            return Role.CONTRIBUTOR, f"staff title '{staff_title}' says Teacher or Staff", ()
    shown = ", ".join(f"'{t}'" for t in titles) or "none"
    note = "; school-administrator title but no schools" if title and not schools else ""
    return Role.RESTRICTED_VIEWER, f"no rule matched (titles: {shown}){note}", ()


def effective_role(synced: Role, override: Role | None) -> Role:
    """The role in force: a manual override when there is one, else the synced role."""
    return override if override is not None else synced
