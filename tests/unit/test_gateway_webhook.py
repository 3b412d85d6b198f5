from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_gateway_support import OLD_SECRET, SECRET, Harness

from gateway.webhook_signature import BadSignature, sign, verify

SCHOOL_ID = "58da8c58155b940248000007"
STUDENT_ID = "5d9f1c2e8a1b2c3d4e5f6071"

E1 = "6a0000000000000000000001"  # Clever event ids are 24 hex digits
E2 = "6a0000000000000000000002"


def event(
    event_id: str,
    type_: str = "schools.updated",
    obj: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj or {"id": SCHOOL_ID, "name": "Pineapple Elementary"}}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id, "type": type_, "created": "2024-09-03T16:09:40.000Z", "data": data}


STUDENT_EVENT = event(
    "6a00000000000000000000ff",
    "users.created",
    {"id": STUDENT_ID, "roles": {"student": {"grade": "3", "school": SCHOOL_ID}}},
)


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        yield harness


# --- the signature on its own ---------------------------------------------------------------


def test_verify_accepts_any_secret_and_any_v1() -> None:
    body = b'{"a":1}'
    header = f"t=1000,v1={'0' * 64},v1={sign('second', 1000, body)}"
    verify(header, body, ["first", "second"], now=1000)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("v1=abc", "malformed"),
        ("t=1000", "malformed"),
        ("t=abc,v1=00", "malformed"),
        (f"t=1000,v1={'0' * 64}", "does not match"),
        (f"t=699,v1={sign('s', 699, b'{}')}", "outside"),
        (f"t=1301,v1={sign('s', 1301, b'{}')}", "outside"),
    ],
)
def test_verify_refuses(header: str | None, reason: str) -> None:
    with pytest.raises(BadSignature, match=reason):
        verify(header, b"{}", ["s"], now=1000)


def test_verify_without_secrets_refuses_everything() -> None:
    with pytest.raises(BadSignature, match="no webhook secret configured"):
        verify(f"t=1000,v1={sign('s', 1000, b'{}')}", b"{}", [], now=1000)


# --- the endpoint ---------------------------------------------------------------------------


def test_single_event_is_published_once_confirmed(h: Harness) -> None:
    sent = event(E1, previous={"name": "Old"})
    response = h.post_webhook(sent)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "dropped": 0}
    [message] = h.messages("events")
    assert message.actor_name == "apply_event"
    assert message.kwargs == {"event": sent, "source": "webhook"}


def test_a_list_is_published_in_order_and_student_events_are_dropped(h: Harness) -> None:
    response = h.post_webhook([event(E1), STUDENT_EVENT, event(E2, "schools.deleted")])
    assert response.json() == {"accepted": 2, "dropped": 1}
    assert [m.kwargs["event"]["id"] for m in h.messages("events")] == [E1, E2]
    assert STUDENT_ID not in json.dumps([m.asdict() for m in h.all_messages()])


def test_section_students_never_reach_the_broker(h: Harness) -> None:
    section = {"id": "sec1", "school": SCHOOL_ID, "name": "Algebra", "students": [STUDENT_ID]}
    response = h.post_webhook(event(E1, "sections.updated", section, previous={"students": []}))
    assert response.status_code == 202
    [message] = h.messages("events")
    assert "students" not in message.kwargs["event"]["data"]["object"]
    assert STUDENT_ID not in json.dumps(message.asdict())


def test_rotated_secret_is_accepted(h: Harness) -> None:
    assert h.post_webhook(event(E1), secret=OLD_SECRET).status_code == 202
    assert len(h.messages("events")) == 1


def test_wrong_secret_is_401(h: Harness) -> None:
    response = h.post_webhook(event(E1), secret="not-ours")
    assert response.status_code == 401
    assert response.json() == {"error": "signature does not match"}
    assert h.all_messages() == []


def test_tampered_body_is_401(h: Harness) -> None:
    stamp = int(time.time())
    original = json.dumps(event(E1)).encode()
    tampered = original.replace(b"Pineapple", b"Pineappl3")
    signature = f"t={stamp},v1={sign(SECRET, stamp, original)}"
    response = h.client.post(
        "/webhooks/clever",
        content=tampered,
        headers={
            "Content-Type": "application/json",
            "Clever-Signature": signature,
        },
    )
    assert response.status_code == 401
    assert h.all_messages() == []


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_or_future_timestamp_is_401(h: Harness, skew: int) -> None:
    response = h.post_webhook(event(E1), timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert "outside" in response.json()["error"]
    assert h.all_messages() == []


def test_missing_signature_is_401(h: Harness) -> None:
    response = h.client.post("/webhooks/clever", json=event(E1))
    assert response.status_code == 401
    assert response.json() == {"error": "missing Clever-Signature header"}


def test_no_configured_secret_is_401(tmp_path: Path) -> None:
    with Harness.open(tmp_path, webhook_secrets=()) as h:
        response = h.post_webhook(event(E1))
        assert response.status_code == 401
        assert response.json() == {"error": "no webhook secret configured"}
        assert h.all_messages() == []


def test_malformed_json_is_400(h: Harness) -> None:
    response = h.post_webhook(None, raw=b'{"id": "6a0000000000000000000001", ')
    assert response.status_code == 400
    assert response.json() == {"error": "malformed JSON"}


def test_non_json_content_type_is_415(h: Harness) -> None:
    response = h.post_webhook(event(E1), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert h.all_messages() == []


def test_oversized_body_is_413_by_content_length(h: Harness) -> None:
    big = event(E1, obj={"id": SCHOOL_ID, "name": "x" * 9000})
    response = h.post_webhook(big)
    assert response.status_code == 413
    assert h.all_messages() == []


def test_oversized_streamed_body_is_413(h: Harness) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    response = h.client.post(
        "/webhooks/clever",
        content=chunks(),
        headers={
            "Content-Type": "application/json",
            "Clever-Signature": "t=1,v1=00",
        },
    )
    assert response.status_code == 413


def test_an_invalid_event_rejects_the_whole_request(h: Harness) -> None:
    broken = {"id": E2, "type": "schools.updated", "data": {}}
    response = h.post_webhook([event(E1), broken])
    assert response.status_code == 422
    assert response.json() == {"error": f"event 1: event {E2} has no data.object"}
    assert h.all_messages() == []


def test_broker_down_is_503_with_retry_after(h: Harness) -> None:
    h.break_broker()
    response = h.post_webhook(event(E1))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0


def test_only_private_events_accept_nothing(h: Harness) -> None:
    response = h.post_webhook([STUDENT_EVENT])
    assert (response.status_code, response.json()) == (202, {"accepted": 0, "dropped": 1})
    assert h.all_messages() == []
