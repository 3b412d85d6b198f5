"""Hostile requests against every route of the gateway, generated with hypothesis.

The routes come from the app's own route table, so a new route is covered without editing this
file. Every request carries a valid operator credential (and the webhook a valid signature) so
that the checks behind authentication are reached. Each answer must be below 500, and a refused
request (4xx) must leave every table and every broker queue exactly as they were.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, select
from starlette.routing import Route
from test_gateway_support import DISTRICT, SECRET, Harness

from gateway.webhook_signature import signature_header

STAFF = "5b2ad81a709e300001e2c0a1"
SCHOOL = "5b2ad81a709e300001e2c051"
RUN = str(uuid.uuid4())
VALID = {"district_id": DISTRICT, "clever_id": STAFF, "school_id": SCHOOL, "run_id": RUN}
EXAMPLES_PER_ROUTE = 10
# The documented shapes (README, HTTP API), written out again here so the test does not take the
# gateway's word for them.
SHAPES = {
    "district_id": re.compile(r"[0-9a-fA-F]{24}"),
    "clever_id": re.compile(r"[0-9a-fA-F]{24}"),
    "school_id": re.compile(r"[0-9a-fA-F]{24}"),
    "run_id": re.compile(r"[0-9A-Za-z-]{1,36}"),
    "nonce": re.compile(r"[0-9A-Za-z_-]{16,64}"),
    "failed_id": re.compile(r"[0-9]{1,18}"),
}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIN_CASES = 300

HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            DISTRICT + "\x00",
            "²",
            "١٢",
            "\U0001d7d9\U0001d7da",  # mathematical digits one and two
            "-1",
            "0",
            "1e3",
            "9" * 40,
            "f" * 23,
            "f" * 25,
            "F" * 24,
            DISTRICT.upper(),
            "x" * 300,
            "\t",
            "\r\n",
            "\u202e",
            "%00",
            "..",
            "null",
            "true",
        ]
    ),
    st.text(max_size=40),
    st.text(alphabet="0123456789abcdefABCDEFxg", min_size=20, max_size=28),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE_TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=12,
)
BODY_KEYS = [
    "kind", "role", "periods", "lane", "deactivation_threshold", "role_rules", "timezone",
    "bell_schedule_ext_field", "label", "start", "end", "pattern", "id", "type", "data",
]  # fmt: skip


def nested(depth: int, opener: str, closer: str, inner: str = "1") -> bytes:
    return (opener * depth + inner + closer * depth).encode()


RAW_BODIES = st.one_of(
    st.sampled_from(
        [
            b"",
            b"[]",
            b"null",
            b"0",
            b"false",
            b'""',
            b"{",
            b"\xff\xfe{}",
            b"NaN",
            b'{"kind": NaN}',
            b'{"kind": Infinity}',
            b'{"kind": "\\u0000"}',
            b'{"kind": "\\ud800"}',
            b'{"periods": [{"label": "a\\u0000", "start": "08:00", "end": "09:00"}]}',
            b'{"role": "SCHOOL_ADMIN\\u0000"}',
            b"1" * 5000,
            b'{"kind": "full"}',
            b"{}",
        ]
    ),
    st.integers(60, 3000).map(lambda n: nested(n, "[", "]")),
    st.integers(60, 3000).map(lambda n: nested(n, '{"a":', "}")),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(BODY_KEYS), JSON_VALUES, max_size=3).map(
        lambda v: json.dumps(v).encode()
    ),
)

ALWAYS_TRIED_BODIES = [
    nested(50_000, "[", "]"),
    nested(20_000, '{"a":', "}"),
    b'{"kind": "full\\u0000"}',
    b'{"role": "SCHOOL_ADMIN\\u0000"}',
    b'{"periods": [{"label": "a\\u0000", "start": "08:00", "end": "09:00"}]}',
    b'{"timezone": "America/Chicago\\u0000"}',
    json.dumps(
        {
            "id": "6a0000000000000000000002",
            "type": "schools.updated",
            "data": {"object": {"id": SCHOOL, "district": DISTRICT, "name": "Pine\x00apple"}},
        }
    ).encode(),
    json.dumps(
        {
            "id": "6a0000000000000000000003",
            "type": "schools.updated",
            "data": {"object": {"id": "a" * 65, "district": DISTRICT, "name": "Pineapple"}},
        }
    ).encode(),
    b'{"kind": "\\ud800"}',
    b"null",
]
EVENT_TYPES = ["users.updated", "schools.created", "sections.updated", "terms.deleted", "districts.updated"]


def future_id() -> str:
    return f"{int(time.time()) + 10 * 86400:08x}" + "0" * 16


EVENT_IDS = st.one_of(
    st.just("6a0000000000000000000001"),
    st.just("6A00000000000000000000FF"),
    st.builds(future_id),
    HOSTILE_TEXT,
)
OBJECTS = st.fixed_dictionaries(
    {"id": st.one_of(st.just(STAFF), HOSTILE_TEXT)},
    optional={
        "district": st.one_of(st.just(DISTRICT), HOSTILE_TEXT),
        "name": st.one_of(HOSTILE_TEXT, JSON_VALUES),
        "school": HOSTILE_TEXT,
        "grade": HOSTILE_TEXT,
        "low_grade": HOSTILE_TEXT,
        "term_id": HOSTILE_TEXT,
        "roles": st.just({"teacher": {"school": SCHOOL}}),
    },
)
EVENTS = st.fixed_dictionaries(
    {
        "id": EVENT_IDS,
        "type": st.one_of(st.sampled_from(EVENT_TYPES), HOSTILE_TEXT),
        "data": st.fixed_dictionaries({"object": OBJECTS}),
    }
)
WEBHOOK_BODIES = st.one_of(
    EVENTS.map(lambda e: json.dumps(e).encode()),
    st.lists(EVENTS, min_size=1, max_size=3).map(lambda e: json.dumps(e).encode()),
    RAW_BODIES,
)
SIGNATURES = st.sampled_from(["valid", "t=²,v1=00", "t=,v1=", "t=99999999999999999,v1=aa", "v1=aa"])
QUERY_NAMES = [
    "limit",
    "after",
    "offset",
    "include_inactive",
    "district_id",
    "state",
    "code",
    "error",
    "next",
]
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None])


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    # Bodies up to 256 KiB, so deeply nested JSON reaches the parser instead of the size limit.
    with Harness.open(tmp_path, webhook_max_body_bytes=262_144) as harness:
        harness.add_district()
        harness.add_staff(STAFF)
        harness.add_school(SCHOOL)
        # A held run always has the position its crawl started from.
        harness.add_run(RUN, status="held", held_plan={"staff": [STAFF]}, source_position="6000" + "0" * 20)
        yield harness


def snapshot(h: Harness, tables: MetaData) -> tuple[dict[str, list[str]], dict[str, list[bytes]]]:
    """Every row of every table and every message of every queue."""
    with h.rt.engine.connect() as conn:
        rows = {name: sorted(map(repr, conn.execute(select(t)).all())) for name, t in tables.tables.items()}
    queues = {name: list(q.queue) for name, q in h.broker.queues.items()}
    return rows, queues


def operations(h: Harness) -> list[tuple[str, Route]]:
    found: list[tuple[str, Route]] = []
    for route in h.client.app.router.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route):
            found.extend((method, route) for method in sorted(route.methods or ()) if method != "HEAD")
    return found


def request_strategy(method: str, route: Route) -> st.SearchStrategy[dict[str, Any]]:
    params = {
        name: st.one_of(st.just(VALID.get(name, "f" * 24)), HOSTILE_TEXT) for name in route.param_convertors
    }
    has_body = method in ("POST", "PUT", "PATCH")
    webhook = route.path == "/webhooks/clever"
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(params),
            "query": st.dictionaries(st.sampled_from(QUERY_NAMES), HOSTILE_TEXT, max_size=3),
            "body": (WEBHOOK_BODIES if webhook else RAW_BODIES) if has_body else st.just(b""),
            "content_type": CONTENT_TYPES if has_body else st.just(None),
            "signature": SIGNATURES if webhook else st.just(None),
        }
    )


def send(h: Harness, method: str, route: Route, case: dict[str, Any]) -> Any:
    path = route.path
    for name, value in case["path"].items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    headers: dict[str, str | bytes] = {**h.admin()}
    if case["content_type"] is not None:
        headers["Content-Type"] = case["content_type"]
    if case["signature"] is not None:
        stamp = int(time.time())
        valid = signature_header(SECRET, stamp, case["body"])
        headers["Clever-Signature"] = valid if case["signature"] == "valid" else case["signature"].encode()
    return h.client.request(method, path, params=case["query"], content=case["body"], headers=headers)


def malformed_path_param(params: dict[str, str]) -> bool:
    generic = re.compile(r"[0-9A-Za-z_-]{1,64}")
    return any(not SHAPES.get(name, generic).fullmatch(value) for name, value in params.items())


def always_tried(method: str, route: Route) -> list[dict[str, Any]]:
    """Cases sent whatever the generator draws: the bodies that once made a 500."""
    if method not in ("POST", "PUT", "PATCH"):
        return []
    path = {name: VALID.get(name, "f" * 24) for name in route.param_convertors}
    signature = "valid" if route.path == "/webhooks/clever" else None
    return [
        {"path": path, "query": {}, "body": body, "content_type": "application/json", "signature": signature}
        for body in ALWAYS_TRIED_BODIES
    ]


def run_route(
    h: Harness, tables: MetaData, method: str, route: Route, cases: list[tuple[str, str, int]]
) -> None:
    def check(case: dict[str, Any]) -> None:
        before = snapshot(h, tables)
        response = send(h, method, route, case)
        cases.append((method, route.path, response.status_code))
        assert response.status_code < 500, (method, route.path, case, response.text)
        unroutable = any(v in ("", ".", "..") or "/" in v for v in case["path"].values())
        if unroutable:  # the URL names no route at all
            assert response.status_code in (404, 405, 422)
        elif malformed_path_param(case["path"]) or any(CONTROL.search(v) for v in case["query"].values()):
            assert response.status_code == 422, (method, route.path, case, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith(("application/json", "text/html"))
            assert snapshot(h, tables) == before, (method, route.path, case, response.status_code)

    test = check
    for case in always_tried(method, route):
        test = example(case=case)(test)
    test = given(case=request_strategy(method, route))(test)
    settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as generated, unshrunk
    )(test)()


def test_hostile_requests_never_5xx_and_a_refusal_changes_nothing(h: Harness) -> None:
    tables = MetaData()  # as the database has them: every migration's tables, new ones included
    tables.reflect(bind=h.rt.engine)
    cases: list[tuple[str, str, int]] = []
    for method, route in operations(h):
        run_route(h, tables, method, route, cases)
    assert len(cases) >= MIN_CASES
    assert {(m, p) for m, p, _ in cases} == {(m, r.path) for m, r in operations(h)}
    refused = [status for _, _, status in cases if 400 <= status < 500]
    assert len(refused) > len(cases) // 2  # the generator mostly produces bad input, as intended
