"""WEBHOOK_SECRETS entries bound to one district (`district_id=secret`) beside unbound ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_gateway_support import DISTRICT, OTHER_DISTRICT, SECRET, Harness
from test_gateway_webhook import E1, E2, event

from gateway.webhook_signature import BadSignature, WebhookSecret, parse_secrets, sign, verify

BOUND = "whsec-district-7a"
UPPER_DISTRICT = DISTRICT.upper()


def school(district: str, school_id: str = "58da8c58155b940248000007") -> dict[str, Any]:
    return {"id": school_id, "district": district, "name": "Pineapple Elementary"}


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path, webhook_secrets=(f"{UPPER_DISTRICT}={BOUND}", SECRET)) as harness:
        yield harness


def test_entries_are_bound_only_by_a_clever_district_id() -> None:
    parsed = parse_secrets([f"{DISTRICT}=abc", "plain", "base64secret==", "not-a-district=xyz", " "])
    assert parsed == (
        WebhookSecret("abc", DISTRICT),
        WebhookSecret("plain"),
        WebhookSecret("base64secret=="),
        WebhookSecret("not-a-district=xyz"),
    )
    assert "abc" not in repr(parsed[0])


def test_verify_names_the_districts_of_the_matching_secrets() -> None:
    body = b"{}"
    header = f"t=1000,v1={sign('abc', 1000, body)}"
    sender = verify(header, body, [f"{DISTRICT}=abc", "other"], now=1000)
    assert sender.districts == frozenset({DISTRICT})
    assert sender.refusal(DISTRICT) is None and sender.refusal(UPPER_DISTRICT) is None
    assert sender.refusal(OTHER_DISTRICT) == "the webhook secret is bound to another district"
    assert sender.refusal(None) is not None
    unbound = verify(f"t=1000,v1={sign('other', 1000, body)}", body, [f"{DISTRICT}=abc", "other"], now=1000)
    assert unbound.districts is None and unbound.refusal(OTHER_DISTRICT) is None


def test_a_bound_secret_alone_is_still_a_signature_check() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify(f"t=1000,v1={sign('wrong', 1000, b'{}')}", b"{}", [f"{DISTRICT}=abc"], now=1000)


def test_bound_secret_delivers_its_own_district(h: Harness) -> None:
    response = h.post_webhook(event(E1, obj=school(DISTRICT)), secret=BOUND)
    assert response.status_code == 202
    assert len(h.messages("events")) == 1


def test_bound_secret_may_not_speak_for_another_district(h: Harness) -> None:
    response = h.post_webhook(event(E1, obj=school(OTHER_DISTRICT)), secret=BOUND)
    assert response.status_code == 403
    assert response.json() == {"error": "event 0: the webhook secret is bound to another district"}
    assert h.all_messages() == []


def test_one_foreign_event_refuses_the_whole_batch(h: Harness) -> None:
    batch = [event(E1, obj=school(DISTRICT)), event(E2, obj=school(OTHER_DISTRICT))]
    response = h.post_webhook(batch, secret=BOUND)
    assert response.status_code == 403
    assert response.json()["error"].startswith("event 1:")
    assert h.all_messages() == []


def test_a_district_event_is_checked_by_its_own_id(h: Harness) -> None:
    own = event(E1, "districts.updated", {"id": DISTRICT, "name": "District 7a"})
    other = event(E2, "districts.updated", {"id": OTHER_DISTRICT, "name": "District 7b"})
    assert h.post_webhook(own, secret=BOUND).status_code == 202
    assert h.post_webhook(other, secret=BOUND).status_code == 403
    assert len(h.messages("events")) == 1


def test_an_unbound_secret_still_speaks_for_any_district(h: Harness) -> None:
    batch = [event(E1, obj=school(DISTRICT)), event(E2, obj=school(OTHER_DISTRICT))]
    assert h.post_webhook(batch, secret=SECRET).status_code == 202
    assert len(h.messages("events")) == 2
