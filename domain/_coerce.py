"""Defensive readers for Clever JSON, where almost nothing is guaranteed to be present or typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text(value: Any) -> str | None:
    """A stripped string, or None for missing, empty, or non-scalar values.

    Clever sends ``""`` and omits fields interchangeably; folding both to None keeps content
    hashes from flapping between the two.
    """
    if type(value) is str:  # nearly every call: decide it first
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty one."""
    if type(value) is dict:  # what parsed JSON holds; the ABC check below is slow
        return value
    return value if isinstance(value, Mapping) else {}


def id_list(value: Any) -> list[str]:
    """Non-empty string ids from a JSON array, in order; anything else is ignored."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in (text(v) for v in value) if item is not None]


def unique(items: list[str]) -> tuple[str, ...]:
    """Items in first-seen order without duplicates."""
    return tuple(dict.fromkeys(items))
