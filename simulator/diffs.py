"""Helpers for mutations: deep merge of partial updates and Clever-style ``previous_attributes`` diffs."""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]
_MISSING = object()
# Clever does not report bookkeeping timestamps in previous_attributes (recorded schools.updated events
# change last_modified but only list the business fields).
IGNORED_TOP_LEVEL = frozenset({"last_modified"})


def deep_merge(base: JSON, changes: JSON) -> JSON:
    """New dict = ``base`` with ``changes`` applied; nested dicts merge, everything else replaces."""
    out = copy.deepcopy(base)
    _merge_into(out, changes)
    return out


def _merge_into(target: JSON, changes: JSON) -> None:
    for key, value in changes.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge_into(current, value)
        else:
            target[key] = copy.deepcopy(value)


def unset_paths(obj: JSON, paths: list[str]) -> None:
    """Remove dotted paths such as ``roles.staff`` or ``email`` (missing paths are ignored)."""
    for path in paths:
        parts = path.split(".")
        node: Any = obj
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(parts[-1], None)


def previous_attributes(old: JSON, new: JSON, top_level: bool = True) -> JSON:
    """Sparse nested diff holding the *old* value of every changed leaf.

    A key that did not exist before is reported as ``null`` (the object had no value for it); arrays are
    leaves, as in Clever's ``sections.updated`` events (``previous_attributes.students`` is the whole array).
    """
    prev: JSON = {}
    for key in sorted(old.keys() | new.keys()):
        if top_level and key in IGNORED_TOP_LEVEL:
            continue
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            sub = previous_attributes(before, after, top_level=False)
            if sub:
                prev[key] = sub
        else:
            prev[key] = None if before is _MISSING else copy.deepcopy(before)
    return prev
