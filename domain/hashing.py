"""Content hashes of mapped entities, so an upsert writes only when something changed.

The hash is over a canonical JSON text of the entity: dataclass fields by name, tuples and lists
as arrays, enums as their values, dict keys sorted, sets sorted. It depends on nothing of the
running process (no ``hash()``, no dict insertion order), so every worker computes the same value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import operator
import types
import typing
from enum import Enum
from typing import Any

import orjson

from domain.entities import field_names

# Bump when the canonical form changes on purpose: every row then rewrites once.
HASH_VERSION = "1"
# Bump when the mapping turns the same Clever object into a different entity: every stored
# source hash stops matching, so the next sync maps every object again (and writes what moved).
MAPPING_VERSION = "1"
HASH_LENGTH = 32  # hex chars; 128 bits is ample to detect changes within one district


_PLAIN = (str, int, float, bool)


def _canonical(value: Any) -> Any:
    # Exact-type check first: most values are plain strings, and a StrEnum must become its value.
    if value is None or type(value) in _PLAIN:
        if type(value) is float and not math.isfinite(value):
            raise ValueError("cannot hash NaN or infinity")  # JSON has no spelling for them
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, Enum):
        return _canonical(value.value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def _is_flat(hint: Any) -> bool:
    """str, str | None, a string enum, or tuple[str, ...]."""
    if isinstance(hint, type):
        return issubclass(hint, str)
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        return all(a is type(None) or _is_flat(a) for a in args)
    return typing.get_origin(hint) is tuple and args == (str, ...)


_FLAT_FIELDS: dict[type, tuple[str, ...] | None] = {}
_TYPE_KEY = "__type__"  # the canonical form's key for the entity's class


def _flat_fields(cls: type) -> tuple[str, ...] | None:
    """The field names, sorted, of a dataclass whose fields are all declared as strings, optional
    strings, string enums or tuples of strings (staff users, classrooms, terms, courses: the bulk
    of every page); None for any other type. Decided once per class, so hashing such an entity
    reads its fields without the recursive walk or a check per value."""
    if cls not in _FLAT_FIELDS:
        _FLAT_FIELDS[cls] = None
        if dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls)
            names = tuple(sorted(field_names(cls)))
            if names and names[0] > _TYPE_KEY and all(_is_flat(hints[name]) for name in names):
                _FLAT_FIELDS[cls] = names
    return _FLAT_FIELDS[cls]


def _canonical_bytes(entity: Any) -> bytes:
    names = _flat_fields(type(entity))
    if names is not None:
        # The mapping builds these fields as declared: orjson writes strings, None, tuples and
        # string enums exactly as the walk would, and the keys go in already sorted. A value it
        # cannot write (a set, say) raises, and the walk below takes over.
        values = operator.attrgetter(*names)(entity) if len(names) > 1 else (getattr(entity, names[0]),)
        try:
            return orjson.dumps(dict(zip((_TYPE_KEY, *names), (type(entity).__name__, *values), strict=True)))
        except TypeError:
            pass
    canonical = _canonical(entity)
    try:
        # orjson writes the same compact, key-sorted text as json.dumps, several times faster.
        return orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, which only the standard library writes
        return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_json(entity: Any) -> str:
    """The canonical JSON text the hash is computed over (useful when a hash surprises you)."""
    return _canonical_bytes(entity).decode()


_HASH_PREFIX = f"v{HASH_VERSION}:".encode()


def content_hash(entity: Any) -> str:
    """sha256 of the entity's canonical JSON, as 32 hex characters."""
    return hashlib.sha256(_HASH_PREFIX + _canonical_bytes(entity)).hexdigest()[:HASH_LENGTH]


def source_hash(clever_object: Any, context: Any = None) -> str:
    """Hash of a Clever object as received (without students) and of whatever else its mapping
    reads (`context`: a user's principal schools and the district's role rules).

    Stored beside the content hash, it lets a sync see that an object is exactly what produced
    the stored row without mapping it again. Key order does not matter.
    """
    if context is None:
        # Most objects (every one but users): the same text, `[versions, null, object]`, hashed
        # from a digest of its fixed head instead of built as a list and written whole.
        try:
            body = orjson.dumps(clever_object, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass
        else:
            digest = _CONTEXTLESS_HEAD.copy()
            digest.update(body)
            digest.update(b"]")
            return digest.hexdigest()
    try:
        text = orjson.dumps([_SOURCE_VERSIONS, context, clever_object], option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits in an `ext` field
        text = json.dumps([_SOURCE_VERSIONS, context, clever_object], sort_keys=True, default=str).encode()
    return hashlib.blake2b(text, digest_size=HASH_LENGTH // 2).hexdigest()


# The content hash's version too: after it changes every row must be compared (and rewritten).
_SOURCE_VERSIONS = f"{MAPPING_VERSION}.{HASH_VERSION}"
_CONTEXTLESS_HEAD = hashlib.blake2b(
    orjson.dumps([_SOURCE_VERSIONS, None])[:-1] + b",", digest_size=HASH_LENGTH // 2
)
