from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.entities import (
    BellPeriod,
    BellSchedule,
    Classroom,
    Course,
    Role,
    ScheduleSource,
    StaffUser,
    Tenant,
    TenantKind,
    Term,
)
from domain.hashing import _canonical, _flat_fields, canonical_json, content_hash, source_hash

TENANT = Tenant(
    clever_id="58da8c58155b940248000007",
    kind=TenantKind.SCHOOL,
    parent_clever_id="58da8a43cc70ab00017a1a87",
    name="Pineapple Elementary School",
    principal_email="ceciliar@mailinator.com",
    ext={"charter_school": "N", "bells": {"*": [{"period": "1", "start": "08:00"}]}},
)
STAFF = StaffUser(
    clever_id="u1",
    first_name="José",
    middle_name=None,
    last_name="Núñez",
    email=None,
    clever_roles=("staff", "teacher"),
    titles=("Counselor",),
    department=None,
    staff_permissions=(),
    school_clever_ids=("s1", "s2"),
    synced_role=Role.CONTRIBUTOR,
    role_reason="Clever role teacher",
    role_school_clever_ids=(),
)
CLASSROOM = Classroom("c1", "s1", "Math - Lee - 1", "1", "math", "6", ("t1", "t2"), "term", None, None, "587")


def test_hash_is_32_hex_and_deterministic() -> None:
    value = content_hash(TENANT)
    assert len(value) == 32 and int(value, 16) >= 0
    assert content_hash(TENANT) == value
    assert content_hash(dataclasses.replace(TENANT)) == value


def test_hash_is_the_same_in_another_process() -> None:
    code = (
        "from domain.entities import Course; from domain.hashing import content_hash; "
        "print(content_hash(Course('c1', 'Algebra I', '101')))"
    )
    env_hash_seed = {"PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env_hash_seed
    )
    assert out.stdout.strip() == content_hash(Course("c1", "Algebra I", "101"))


def test_canonical_form() -> None:
    text = canonical_json(Term("t1", "S1", None, "2012-12-01"))
    assert (
        text == '{"__type__":"Term","clever_id":"t1","end_date":"2012-12-01","name":"S1","start_date":null}'
    )
    staff = canonical_json(STAFF)
    assert '"synced_role":"CONTRIBUTOR"' in staff and '"clever_roles":["staff","teacher"]' in staff
    assert "José" in staff


def test_nested_values_are_canonical() -> None:
    schedule = BellSchedule("s1", ScheduleSource.MANUAL, (BellPeriod("1", "08:00", "08:50"),))
    assert '"periods":[{"__type__":"BellPeriod"' in canonical_json(schedule)
    assert canonical_json({"b": {2, 1}, "a": ("x",)}) == '{"a":["x"],"b":[1,2]}'


def test_unhashable_values_are_refused() -> None:
    with pytest.raises(TypeError):
        content_hash({"when": object()})
    with pytest.raises(ValueError):
        content_hash({"x": float("nan")})


def _every_field_change(entity: Any) -> list[Any]:
    changed = []
    for f in dataclasses.fields(entity):
        value = getattr(entity, f.name)
        if isinstance(value, Role):
            new: Any = Role.SCHOOL_ADMIN if value is not Role.SCHOOL_ADMIN else Role.CONTRIBUTOR
        elif isinstance(value, TenantKind):
            new = TenantKind.DISTRICT if value is TenantKind.SCHOOL else TenantKind.SCHOOL
        elif isinstance(value, tuple):
            new = (*value, "extra") if value else ("extra",)
        elif isinstance(value, dict):
            new = {**value, "extra": 1}
        elif value is None:
            new = "now set"
        else:
            new = value + "x"
        changed.append(dataclasses.replace(entity, **{f.name: new}))
    return changed


@pytest.mark.parametrize(
    "entity", [TENANT, STAFF, CLASSROOM, Term("t", "S1", "a", "b"), Course("c", "n", "1")]
)
def test_any_field_change_changes_the_hash(entity: Any) -> None:
    hashes = {content_hash(entity)} | {content_hash(e) for e in _every_field_change(entity)}
    assert len(hashes) == len(dataclasses.fields(entity)) + 1


def test_teacher_order_matters_and_none_differs_from_empty() -> None:
    swapped = dataclasses.replace(CLASSROOM, teacher_clever_ids=("t2", "t1"))
    assert content_hash(swapped) != content_hash(CLASSROOM)
    assert content_hash(Term("t", None, None, None)) != content_hash(Term("t", "", None, None))


def test_same_fields_different_entity_type_differ() -> None:
    assert content_hash(BellPeriod("1")) != content_hash({"label": "1", "start_time": None, "end_time": None})


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_hash_ignores_dict_key_order(ext: dict[str, Any]) -> None:
    a = dataclasses.replace(TENANT, ext=ext)
    b = dataclasses.replace(TENANT, ext=_reversed_keys(ext))
    assert content_hash(a) == content_hash(b)


@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.text(min_size=1, max_size=6))
def test_hash_sees_a_new_ext_key(ext: dict[str, Any], key: str) -> None:
    changed = {**ext, key: "changed-marker"} if ext.get(key) != "changed-marker" else {**ext, key: "other"}
    assert content_hash(dataclasses.replace(TENANT, ext=ext)) != content_hash(
        dataclasses.replace(TENANT, ext=changed)
    )


ids = st.tuples(st.text(max_size=8), st.text(max_size=8)) | st.just(())
maybe_text = st.none() | st.text(max_size=10)


staff_users = st.builds(
    StaffUser,
    clever_id=st.text(min_size=1, max_size=8),
    first_name=st.text(max_size=8),
    middle_name=maybe_text,
    last_name=st.text(max_size=8),
    email=maybe_text,
    clever_roles=ids,
    titles=ids,
    department=maybe_text,
    staff_permissions=ids,
    school_clever_ids=ids,
    synced_role=st.sampled_from(Role),
    role_reason=st.text(max_size=8),
    role_school_clever_ids=ids,
)
classrooms = st.builds(
    Classroom,
    clever_id=st.text(min_size=1, max_size=8),
    school_clever_id=st.text(max_size=8),
    name=st.text(max_size=8),
    period=maybe_text,
    subject=maybe_text,
    grade=maybe_text,
    teacher_clever_ids=ids,
    term_clever_id=maybe_text,
    course_clever_id=maybe_text,
    section_number=maybe_text,
    sis_id=maybe_text,
)


@settings(max_examples=200)
@given(staff_users | classrooms)
def test_the_flat_fast_path_writes_exactly_the_canonical_walk(entity: StaffUser | Classroom) -> None:
    # Stored hashes must not change with how they are computed: every row would rewrite once.
    walked = orjson.dumps(_canonical(entity), option=orjson.OPT_SORT_KEYS).decode()
    assert canonical_json(entity) == walked
    if isinstance(entity, StaffUser):
        assert _canonical(entity)["synced_role"] == entity.synced_role.value


def test_stored_hashes_stay_what_earlier_releases_wrote() -> None:
    # Digests written by the first release; a change here rewrites every row of every district.
    assert content_hash(TENANT) == "2327b7c922a414aeb44e3eb5caeeaf36"
    assert content_hash(STAFF) == "a4d16fa6cf61f6019624a9890dc84798"
    assert content_hash(CLASSROOM) == "99968e9a40fb404014c4764b8895ff91"


def test_only_entities_of_strings_take_the_flat_path() -> None:
    # Decided from the declared field types: a tenant's `ext` is a dict, whose keys are sorted
    # and whose nested values are walked.
    assert _flat_fields(Tenant) is None
    assert _flat_fields(BellSchedule) is None  # periods are dataclasses, written with their type
    for cls in (StaffUser, Classroom, Term, Course):
        assert _flat_fields(cls) == tuple(sorted(f.name for f in dataclasses.fields(cls)))


def test_a_value_the_flat_path_cannot_write_falls_back_to_the_walk() -> None:
    # Not what the mapping builds, but a set must hash as the walk sorts it, not fail.
    odd = dataclasses.replace(CLASSROOM, teacher_clever_ids=frozenset({"b", "a"}))  # type: ignore[arg-type]
    assert canonical_json(odd) == orjson.dumps(_canonical(odd), option=orjson.OPT_SORT_KEYS).decode()


SECTION_OBJECT = {
    "id": "5b2ad81a709e300001e2c051",
    "name": "Grade 3 Math",
    "teachers": ["t2", "t1"],
    "ext": {"b": 1, "a": [2, {"y": None, "x": "é"}]},
}


def test_stored_source_hashes_stay_what_earlier_releases_wrote() -> None:
    # A changed source hash makes the next reconcile map every object again and rewrite the
    # column of every row.
    assert source_hash(SECTION_OBJECT) == "8265f42623d35802d967771094e27eac"
    user = {"id": "58da8c58155b940248000007", "email": "A@x.org", "roles": {"teacher": {"title": "T"}}}
    assert source_hash(user, [[["^Dean", "SCHOOL_ADMIN"]], ["s1"]]) == "fe6916c3e01c3b79fcea8cf4f0446d5d"
    assert source_hash({"id": "x", "big": 2**70}) == "41d6bf2ed2b363b6bafe38fe43706160"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5))
def test_an_object_without_context_hashes_as_the_whole_text_would(obj: dict[str, Any]) -> None:
    # Objects without context are hashed from a digest of the text's fixed head: the same bytes.
    text = orjson.dumps(["1.1", None, obj], option=orjson.OPT_SORT_KEYS)
    assert source_hash(obj) == hashlib.blake2b(text, digest_size=16).hexdigest()
    assert source_hash(obj) != source_hash(obj, [])
