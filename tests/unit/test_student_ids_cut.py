"""`without_student_ids` cuts `students` arrays of ids out of Clever's JSON before it is parsed.
Whatever the text holds, what it leaves must parse to the same value less exactly those members:
checked against a walk over the parsed value, on generated JSON whose strings carry quotes,
backslashes, commas, brackets and the pattern's own text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.privacy import without_student_ids

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "clever_samples"

pieces = st.sampled_from(
    ["a", "58da8c63d7dc0ca06800040a", '"', "\\", ",", "[", "]", "{", "}", ":", "\n", "é",
     '"students":["x"]', ',"students":[', '{"students":[', '\\"students']
)  # fmt: skip
tricky = st.lists(pieces, max_size=6).map("".join)
keys = st.sampled_from(["students", "teachers", "id", "students\\", 'x"students']) | tricky
values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | tricky,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=40,
)


def _plain(text: Any) -> bool:
    """A string compact JSON writes without an escape."""
    return isinstance(text, str) and not any(c in '"\\' or ord(c) < 0x20 for c in text)


def expected(value: Any) -> Any:
    """The value less every `students` member whose value is an array of plain strings."""
    if isinstance(value, dict):
        return {
            key: expected(item)
            for key, item in value.items()
            if not (key == "students" and isinstance(item, list) and all(_plain(i) for i in item))
        }
    if isinstance(value, list):
        return [expected(item) for item in value]
    return value


@settings(max_examples=600, deadline=None)
@given(values)
def test_the_cut_text_parses_to_the_value_less_its_student_id_arrays(value: Any) -> None:
    text = orjson.dumps(value)
    assert orjson.loads(without_student_ids(text)) == expected(value)


def test_a_section_keeps_everything_but_its_enrolments() -> None:
    section = {"id": "s1", "teachers": ["t1"], "students": ["p1", "p2"], "name": "Math"}
    first = {"students": ["p1"], "id": "s2"}
    alone = {"students": []}
    text = orjson.dumps({"data": [{"data": section}, {"data": first}, {"data": alone}]})
    cut = orjson.loads(without_student_ids(text))
    assert cut == {
        "data": [
            {"data": {"id": "s1", "teachers": ["t1"], "name": "Math"}},
            {"data": {"id": "s2"}},
            {"data": {}},
        ]
    }


def test_text_that_only_looks_like_a_member_is_left_alone() -> None:
    inside = {"name": ',"students":["p1"]', "note": '{"students":["p2"],', 'x"students': ["p3"]}
    text = orjson.dumps(inside)
    assert orjson.loads(without_student_ids(text)) == inside


def test_arrays_of_anything_but_ids_and_spaced_json_are_left_for_the_parsed_drop() -> None:
    objects = {"students": [{"id": "p1"}], "teachers": ["t1"]}
    assert orjson.loads(without_student_ids(orjson.dumps(objects))) == objects
    spaced = json.dumps({"id": "s1", "students": ["p1"]}).encode()  # ", " and ": " between tokens
    assert without_student_ids(spaced) == spaced


def test_a_recorded_clever_sections_page_loses_every_enrolment_and_nothing_else() -> None:
    cassette = yaml.safe_load((SAMPLES / "sections.yml").read_text(encoding="utf-8"))
    raw = cassette["http_interactions"][0]["response"]["body"]["string"].encode()
    assert b'"students":[' in raw
    cut = without_student_ids(raw)
    assert b'"students"' not in cut
    assert orjson.loads(cut) == expected(orjson.loads(raw))
