"""The gateway's one validation layer, case by case: id shapes and their spelling, integers, JSON
bounds and types, storable webhook events, future positions, and redirects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_gateway_support import DISTRICT, Harness

from storage.tables import audit_log, sync_runs

STAFF = "5b2ad81a709e300001e2c0a1"
SCHOOL = "5b2ad81a709e300001e2c051"
PAST_EVENT = "6a0000000000000000000001"  # 2026-05-10


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        harness.add_district()
        harness.add_staff(STAFF)
        harness.add_school(SCHOOL)
        yield harness


def school_event(event_id: str = PAST_EVENT, **fields: Any) -> dict[str, Any]:
    obj = {"id": SCHOOL, "district": DISTRICT, "name": "Pineapple", **fields}
    return {"id": event_id, "type": "schools.updated", "data": {"object": obj}}


def id_at(seconds: float) -> str:
    return f"{int(seconds):08x}" + "0" * 16


def count_runs(h: Harness) -> int:
    with h.rt.engine.connect() as conn:
        return len(conn.execute(select(sync_runs)).all())


# --- ids in the path and query ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/v1/districts/nope", "district_id must be a 24-character hexadecimal Clever id"),
        (f"/v1/districts/{DISTRICT}0", "district_id must be a 24-character hexadecimal Clever id"),
        (f"/v1/districts/{DISTRICT[:-1]}%00", "district_id must be a 24-character hexadecimal Clever id"),
        (
            f"/v1/districts/{DISTRICT}/schools/s1/bell-schedule",
            "school_id must be a 24-character hexadecimal Clever id",
        ),
        ("/v1/staff/u1", "clever_id must be a 24-character hexadecimal Clever id"),
        ("/v1/runs/run%00", "run_id must be a run id (a UUID: 1-36 letters, digits or hyphens)"),
        (f"/v1/runs/{'a' * 37}", "run_id must be a run id (a UUID: 1-36 letters, digits or hyphens)"),
        ("/connect/%00", "nonce must be a connection nonce (16-64 letters, digits, - or _)"),
        ("/connect/%00/status", "nonce must be a connection nonce (16-64 letters, digits, - or _)"),
        ("/v1/failed-messages/%C2%B2", "failed_id must be a failed-message id (1-18 ASCII digits)"),
    ],
)
def test_a_malformed_path_id_is_422_with_the_rule(h: Harness, path: str, reason: str) -> None:
    method = "PUT" if path.endswith("bell-schedule") else "PATCH" if "/staff/" in path else "GET"
    response = h.client.request(method, path, headers=h.admin(), json={"role": None})
    assert (response.status_code, response.json()) == (422, {"error": reason})


def test_clever_ids_are_lower_cased_on_entry(h: Harness) -> None:
    detail = h.client.get(f"/v1/districts/{DISTRICT.upper()}", headers=h.admin())
    assert detail.status_code == 200 and detail.json()["id"] == DISTRICT
    changed = h.client.patch(f"/v1/staff/{STAFF.upper()}", json={"role": "SCHOOL_ADMIN"}, headers=h.admin())
    assert changed.status_code == 200
    scoped = h.client.patch(
        f"/v1/staff/{STAFF}", params={"district_id": DISTRICT.upper()}, json={"role": None}, headers=h.admin()
    )
    assert scoped.status_code == 200
    with h.rt.engine.connect() as conn:
        subjects = [row.subject for row in conn.execute(select(audit_log))]
    assert subjects == [STAFF, STAFF]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "²"},
        {"limit": "\u0661\u0660"},
        {"after": "²"},
        {"limit": "5\x00"},
        {"include_inactive": "true\x00"},
    ],
)
def test_query_integers_are_ascii_digits_and_values_hold_no_control_characters(
    h: Harness, query: dict[str, str]
) -> None:
    response = h.client.get(f"/v1/districts/{DISTRICT}/staff", params=query, headers=h.admin())
    assert response.status_code == 422
    assert set(response.json()) == {"error"}


def test_offset_is_ascii_digits(h: Harness) -> None:
    response = h.client.get(f"/v1/districts/{DISTRICT}/runs", params={"offset": "³"}, headers=h.admin())
    assert response.status_code == 422


def test_a_control_character_in_a_header_we_read_is_400(h: Harness) -> None:
    response = h.client.get("/v1/districts", headers={"Authorization": b"Bearer x\x00y"})
    assert response.status_code == 400
    assert response.json() == {"error": "header authorization must not contain control characters"}


def test_content_length_is_ascii_digits(h: Harness) -> None:
    response = h.client.post(
        f"/v1/districts/{DISTRICT}/sync",
        content=b"{}",
        headers={**h.admin(), "Content-Type": "application/json", "Content-Length": "²".encode()},
    )
    assert (response.status_code, response.json()) == (400, {"error": "invalid Content-Length"})
    assert count_runs(h) == 0


def test_a_trailing_slash_is_404_never_a_redirect_built_from_the_host_header(h: Harness) -> None:
    response = h.client.get("/v1/districts/", headers={**h.admin(), "Host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers


# --- JSON bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"[]", b"null", b"0", b"false", b'""', b"[{}]"])
def test_sync_takes_only_an_object_or_an_empty_body(h: Harness, body: bytes) -> None:
    response = h.client.post(
        f"/v1/districts/{DISTRICT}/sync",
        content=body,
        headers={**h.admin(), "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (422, {"error": "the body must be a JSON object"})
    assert count_runs(h) == 0 and h.all_messages() == []


@pytest.mark.parametrize("body", [b"", b"{}", b'{"kind": "reconcile"}'])
def test_sync_accepts_an_empty_body_or_an_object(h: Harness, body: bytes) -> None:
    response = h.client.post(
        f"/v1/districts/{DISTRICT}/sync",
        content=body,
        headers={**h.admin(), "Content-Type": "application/json"},
    )
    assert response.status_code == 202
    assert count_runs(h) == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b'{"a":' * 65 + b"1" + b"}" * 65, 400, "JSON nested deeper than 64 levels"),
        (b'{"timezone": "UTC\\u0000"}', 422, "JSON strings must not contain NUL characters"),
        (b'{"timezone": "\\udc00"}', 422, "JSON strings must be valid Unicode (no lone surrogates)"),
        (b'{"deactivation_threshold": NaN}', 400, "malformed JSON"),
    ],
)
def test_admin_bodies_are_bounded(h: Harness, body: bytes, status: int, reason: str) -> None:
    response = h.client.patch(
        f"/v1/districts/{DISTRICT}", content=body, headers={**h.admin(), "Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (status, {"error": reason})


def test_deep_json_within_the_size_limit_is_400_not_a_recursion_error(tmp_path: Path) -> None:
    with Harness.open(tmp_path, webhook_max_body_bytes=1_048_576) as h:
        h.add_district()
        deep = b"[" * 200_000 + b"]" * 200_000
        headers = {**h.admin(), "Content-Type": "application/json"}
        patched = h.client.patch(f"/v1/districts/{DISTRICT}", content=deep, headers=headers)
        hooked = h.post_webhook(None, raw=deep)
    assert (patched.status_code, patched.json()) == (400, {"error": "JSON nested deeper than 64 levels"})
    assert (hooked.status_code, hooked.json()) == (400, {"error": "JSON nested deeper than 64 levels"})


def test_a_bell_period_label_with_nul_is_422(h: Harness) -> None:
    body = {"periods": [{"label": "Home\x00room", "start": "08:00", "end": "09:00"}]}
    path = f"/v1/districts/{DISTRICT}/schools/{SCHOOL}/bell-schedule"
    response = h.client.put(path, json=body, headers=h.admin())
    assert (response.status_code, response.json()) == (
        422,
        {"error": "JSON strings must not contain NUL characters"},
    )


# --- the webhook ----------------------------------------------------------------------------------


def test_event_ids_are_published_lower_case(h: Harness) -> None:
    response = h.post_webhook(school_event(PAST_EVENT.upper(), id=SCHOOL.upper()))
    assert response.status_code == 202
    [message] = h.messages("events")
    assert message.kwargs["event"]["id"] == PAST_EVENT
    assert message.kwargs["event"]["data"]["object"]["id"] == SCHOOL


def test_an_event_id_from_the_future_is_422_and_nothing_is_published(h: Harness) -> None:
    now = time.time()
    ahead = id_at(now + 3600)
    response = h.post_webhook([school_event(), school_event(ahead)])
    assert response.status_code == 422
    assert response.json() == {"error": f"event {ahead}: its id is dated more than 300 s ahead of now"}
    assert h.all_messages() == []
    # Within the allowed skew it is an honest clock difference, and accepted.
    assert h.post_webhook(school_event(id_at(now + 60))).status_code == 202


def test_the_clock_skew_is_a_setting(tmp_path: Path) -> None:
    with Harness.open(tmp_path, clock_skew_seconds=7200.0) as h:
        assert h.post_webhook(school_event(id_at(time.time() + 3600))).status_code == 202


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": "a" * 65}, "object field clever_id is longer than 64 characters"),
        ({"district": "d" * 65}, "the district id is longer than 64 characters"),
        ({"low_grade": "K" * 33}, "object field low_grade is longer than 32 characters"),
        ({"name": "Pine\x00apple"}, None),
    ],
)
def test_an_event_no_row_could_hold_is_422_and_nothing_is_published(
    h: Harness, fields: dict[str, Any], reason: str | None
) -> None:
    response = h.post_webhook([school_event(id_at(time.time() - 10)), school_event(**fields)])
    assert response.status_code == 422
    expected = f"event {PAST_EVENT}: {reason}" if reason else "JSON strings must not contain NUL characters"
    assert response.json() == {"error": expected}
    assert h.all_messages() == []


def test_an_over_long_section_grade_is_refused(h: Harness) -> None:
    event = {
        "id": PAST_EVENT,
        "type": "sections.created",
        "data": {"object": {"id": STAFF, "district": DISTRICT, "school": SCHOOL, "grade": "9" * 33}},
    }
    response = h.post_webhook(event)
    assert response.json() == {
        "error": f"event {PAST_EVENT}: object field grade is longer than 32 characters"
    }


@pytest.mark.parametrize("header", ["t=²,v1=00", "t=\u0661\u0662,v1=00", "t=,v1=00"])
def test_a_signature_timestamp_of_unicode_digits_is_401(h: Harness, header: str) -> None:
    raw = json.dumps(school_event()).encode()
    response = h.client.post(
        "/webhooks/clever",
        content=raw,
        headers={"Content-Type": "application/json", "Clever-Signature": header.encode()},
    )
    assert (response.status_code, response.json()) == (401, {"error": "malformed signature timestamp"})
    assert h.all_messages() == []
