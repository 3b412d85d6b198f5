"""Clever objects of one resource → entities, with the district's own role rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.entities import Entity, Role, RoleRule
from domain.mapping import map_course, map_district, map_school, map_section, map_term, map_user


class InvalidPage(ValueError):
    """A page that cannot be applied as a whole; it is dead-lettered with this reason."""


def role_rules(options: Mapping[str, Any]) -> tuple[RoleRule, ...]:
    rules = []
    for raw in options.get("role_rules") or ():
        rules.append(RoleRule(pattern=str(raw["pattern"]), role=Role(raw["role"])))
    return tuple(rules)


def map_items(
    resource_key: str,
    items: Sequence[Mapping[str, Any]],
    *,
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule],
) -> list[Entity]:
    """Map every item or none: one bad object rejects the page, naming the object."""
    kind = resource_key.split(":", 1)[0]
    entities: list[Entity] = []
    for index, item in enumerate(items):
        try:
            entity = _map_one(kind, item, principals, rules)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidPage(f"{resource_key} item {index}: {exc}") from None
        if entity is not None:
            entities.append(entity)
    return entities


def _map_one(
    kind: str,
    item: Mapping[str, Any],
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule],
) -> Entity | None:
    if kind == "districts":
        return map_district(item)
    if kind == "schools":
        return map_school(item)
    if kind == "terms":
        return map_term(item)
    if kind == "courses":
        return map_course(item)
    if kind == "sections":
        return map_section(item)
    if kind == "users":
        return map_user(item, principals, rules)
    raise InvalidPage(f"unknown resource {kind!r}")
