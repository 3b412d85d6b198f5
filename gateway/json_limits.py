"""JSON bodies within bounds: parsed without RecursionError, nested at most MAX_DEPTH levels, and
holding only strings PostgreSQL can store (no NUL, no lone surrogate) and only finite numbers.

The size bound is the caller's (`inputs.read_capped`); this module bounds the shape.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from gateway.errors import ApiError

MAX_DEPTH = 64


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not a JSON number")


_NUL_OR_SURROGATE = re.compile(rb"\\u(0000|d[89a-f])", re.IGNORECASE)

# One decoder for every body: `json.loads` with any option builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def ascii_integer(raw: str, *, max_digits: int) -> int | None:
    """`raw` as an int when it is 1..max_digits ASCII digits, else None (`'²'.isdigit()` is True)."""
    if not raw or len(raw) > max_digits or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def unstorable_string(value: str) -> str | None:
    """Why PostgreSQL could not store `value`, or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogates)"
    return None


def check_tree(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raises a 400 ApiError (too deep) or 422 (a string that cannot be stored). Iterative, so
    no input can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            reason = unstorable_string(node)
            if reason is not None:
                raise ApiError(422, f"JSON strings {reason}")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise ApiError(400, f"JSON nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend((key, depth) for key in node)
            stack.extend((item, depth + 1) for item in node.values())
        else:
            stack.extend((item, depth + 1) for item in node)


# orjson reads integers beyond 64 bits as floats: a body with a run of 19 digits anywhere is
# left to the standard library, which keeps them exact.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def decode_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a body: 400 for malformed or too deeply nested JSON, 422 for unstorable strings."""
    value = _parse(raw, max_depth)
    if _may_break_bounds(raw, max_depth):
        check_tree(value, max_depth=max_depth)
    return value


def _parse(raw: bytes, max_depth: int) -> Any:
    if _LONG_DIGITS.search(raw) is None:
        try:
            # Several times faster than the standard library, and as strict: NaN, infinities,
            # lone surrogates and invalid UTF-8 are refused (and parsed again below, to the
            # same refusal).
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except RecursionError:
        raise ApiError(400, f"JSON nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "malformed JSON") from None


def _may_break_bounds(raw: bytes, max_depth: int) -> bool:
    """False when the raw text alone proves the tree within bounds, so it need not be walked:
    fewer brackets than levels allowed, no `\\u0000` (JSON can carry a NUL no other way) and no
    `\\uD8..`-`\\uDF..` escape (the only way to a surrogate: UTF-8 cannot encode one). Brackets
    and escapes inside strings are counted too, which only sends more bodies to the walk."""
    if raw.count(b"[") + raw.count(b"{") > max_depth:
        return True
    return b"\\u" in raw and _NUL_OR_SURROGATE.search(raw) is not None
