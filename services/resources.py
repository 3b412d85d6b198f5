"""What a full sync fetches from Clever, in order, and how each resource maps to rows.

Users are fetched per staff-side role; students and contacts are never requested.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.entities import EntityType
from domain.privacy import STAFF_USER_ROLES


@dataclass(frozen=True)
class Resource:
    key: str  # checkpoint and idempotency-key name, e.g. "users:staff"
    path: str  # Clever list endpoint
    entity_type: EntityType
    role: str | None = None  # the `role=` filter for users

    @property
    def params(self) -> dict[str, str]:
        return {"role": self.role} if self.role else {}


FULL_SYNC_ORDER: tuple[Resource, ...] = (
    Resource("districts", "districts", EntityType.TENANT),
    Resource("schools", "schools", EntityType.TENANT),
    Resource("terms", "terms", EntityType.TERM),
    Resource("courses", "courses", EntityType.COURSE),
    Resource("sections", "sections", EntityType.CLASSROOM),
    *(Resource(f"users:{role}", "users", EntityType.STAFF, role) for role in STAFF_USER_ROLES),
)

BY_KEY = {resource.key: resource for resource in FULL_SYNC_ORDER}


def resources_of(entity_type: EntityType) -> tuple[str, ...]:
    return tuple(r.key for r in FULL_SYNC_ORDER if r.entity_type == entity_type)


def earlier_user_roles(role: str) -> tuple[str, ...]:
    """Roles crawled before `role`; a multi-role user is applied once, from the first crawl."""
    return STAFF_USER_ROLES[: STAFF_USER_ROLES.index(role)]
