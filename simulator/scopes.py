"""What a district token's scopes let it read: students and contacts need scopes of their own.

Clever documents the scope names (``read:students_basic``, ``read:student_contacts``, ...) but not
exactly what a token without them gets. The simulator answers the way that is easiest to live
with: those users vanish from lists (``role=student`` is a 403), reading one by id is a 404, and
their events leave the feed. Where nothing is said at all -- the ``students`` ids inside a
section -- it assumes the worst and keeps serving them, so clients must drop them themselves.

``honour`` off (``--overshare``, ``POST /_sim/scopes``) serves everything to every token, for tests
that prove a client drops student data on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PRIVATE_ROLES: frozenset[str] = frozenset({"student", "contact"})


def _grants(scopes: Iterable[str], prefixes: tuple[str, ...]) -> bool:
    return any(scope.startswith(prefixes) for scope in scopes)


@dataclass(frozen=True)
class Grant:
    """The private roles a token may not see."""

    hidden: frozenset[str]

    @classmethod
    def everything(cls) -> Grant:
        return cls(frozenset())

    @classmethod
    def from_scopes(cls, scopes: Iterable[str]) -> Grant:
        scopes = tuple(scopes)
        hidden: set[str] = set()
        if not _grants(scopes, ("read:students",)):
            hidden.add("student")
        if not _grants(scopes, ("read:student_contacts", "read:contacts")):
            hidden.add("contact")
        return cls(frozenset(hidden))

    def hides_role(self, role: str | None) -> bool:
        return role is not None and role in self.hidden

    def hides(self, roles: Iterable[str]) -> bool:
        """A user whose every role is hidden is invisible (students never share a user object)."""
        held = frozenset(roles)
        return bool(held) and held <= self.hidden


def is_private(roles: Iterable[str]) -> bool:
    """A student's or contact's user object: what the request log counts as student data served."""
    held = frozenset(roles)
    return bool(held) and held <= PRIVATE_ROLES


def parse_scope_param(value: str | None) -> tuple[str, ...] | None:
    """OAuth's space-separated ``scope`` parameter; None when the request named none."""
    if value is None:
        return None
    return tuple(dict.fromkeys(part for part in value.split() if part))
