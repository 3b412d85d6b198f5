"""Clever objects of one resource → entities, with the district's own role rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain._coerce import mapping
from domain.entities import Entity, Role, RoleRule
from domain.hashing import source_hash
from domain.mapping import map_course, map_district, map_school, map_section, map_term, map_user
from domain.roles import normalize_email


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
    return [entity for _, entity in _map_indexed(resource_key, items, principals, rules)]


def map_with_sources(
    resource_key: str,
    items: Sequence[Mapping[str, Any]],
    *,
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule],
) -> tuple[list[Entity], list[str]]:
    """`map_items`, and the source hash of the object each entity came from."""
    hashes = source_hashes(resource_key, items, principals=principals, rules=rules)
    mapped = _map_indexed(resource_key, items, principals, rules)
    return [entity for _, entity in mapped], [hashes[index] for index, _ in mapped]


def _map_indexed(
    resource_key: str,
    items: Sequence[Mapping[str, Any]],
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule],
) -> list[tuple[int, Entity]]:
    kind = resource_key.split(":", 1)[0]
    mapped: list[tuple[int, Entity]] = []
    for index, item in enumerate(items):
        try:
            entity = _map_one(kind, item, principals, rules)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidPage(f"{resource_key} item {index}: {exc}") from None
        if entity is not None:
            mapped.append((index, entity))
    return mapped


def source_hashes(
    resource_key: str,
    items: Sequence[Mapping[str, Any]],
    *,
    principals: Mapping[str, Sequence[str]],
    rules: Sequence[RoleRule],
) -> list[str]:
    """Each item's `source_hash`, with what `map_items` reads besides the item: for a user, the
    district's role rules and the schools whose principal has the user's email."""
    if resource_key.split(":", 1)[0] != "users":
        return [source_hash(item) for item in items]
    rules_key = [[rule.pattern, rule.role.value] for rule in rules]
    hashes = []
    for item in items:
        email = normalize_email(mapping(item).get("email"))
        led = sorted(set(principals.get(email, ()))) if email else []
        hashes.append(source_hash(item, [rules_key, led]))
    return hashes


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
