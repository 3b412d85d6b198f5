"""`decode_json` skips the walk over the parsed tree when the raw bytes prove it within bounds.
The shortcut must refuse exactly what the walk refuses: checked here against the walk itself,
on generated JSON full of NULs, surrogates, escapes and nesting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import ApiError
from gateway.json_limits import MAX_DEPTH, check_tree, decode_json

# Strings drawn with the characters that matter: NUL, lone and paired surrogates, a backslash
# before "u0000" (a literal backslash, not a NUL), brackets inside strings.
pieces = st.sampled_from(["a", "\x00", "\ud800", "\udfff", "\\", "u0000", "[", "{", "é", "😀"])
tricky = st.lists(pieces, max_size=8).map("".join)
values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky, children, max_size=4),
    max_leaves=40,
)


def outcome(call: Any) -> tuple[int, str] | None:
    try:
        call()
    except ApiError as exc:
        return exc.status, exc.reason
    return None


def encoded(value: Any, *, ensure_ascii: bool) -> bytes | None:
    try:
        return json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: only escaped can it arrive
        return None


@settings(max_examples=400, deadline=None)
@given(values, st.booleans())
def test_the_shortcut_refuses_exactly_what_the_walk_refuses(value: Any, ensure_ascii: bool) -> None:
    raw = encoded(value, ensure_ascii=ensure_ascii)
    if raw is None:
        return
    walked = outcome(lambda: check_tree(json.loads(raw)))
    assert outcome(lambda: decode_json(raw)) == walked


TOO_DEEP = (400, f"JSON nested deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (rb'{"a":"x\u0000"}', (422, "JSON strings must not contain NUL characters")),
        (rb'{"a\u0000":1}', (422, "JSON strings must not contain NUL characters")),
        (rb'["\uD800"]', (422, "JSON strings must be valid Unicode (no lone surrogates)")),
        (rb'["\ud83d\ude00"]', None),  # a pair is one character
        (rb'["\\u0000"]', None),  # an escaped backslash, then the text u0000
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, None),
        (
            b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
            (400, f"JSON nested deeper than {MAX_DEPTH} levels"),
        ),
        (b'["' + b"[" * 200 + b'"]', None),  # brackets inside a string only send it to the walk
    ],
)
def test_bodies_at_the_edges(raw: bytes, expected: tuple[int, str] | None) -> None:
    assert outcome(lambda: decode_json(raw)) == expected


numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
plain: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(plain, st.booleans())
def test_a_body_parses_to_what_the_standard_library_reads(value: Any, ensure_ascii: bool) -> None:
    # Bodies are read by orjson when it can: integers of any size must still come back exact.
    raw = encoded(value, ensure_ascii=ensure_ascii)
    if raw is None or outcome(lambda: check_tree(json.loads(raw))) is not None:
        return
    parsed = decode_json(raw)
    assert parsed == json.loads(raw)
    assert json.dumps(parsed) == json.dumps(json.loads(raw))  # same types too: 2**70, not 1.18e21


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b"[Infinity]", b"1e400x", b"\xef\xbb\xbf{}", b'"\xff"', b"[1,]", b"{'a': 1}", b""],
)
def test_what_either_parser_refuses_is_malformed(raw: bytes) -> None:
    assert outcome(lambda: decode_json(raw)) == (400, "malformed JSON")
