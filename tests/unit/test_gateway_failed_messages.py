"""The failed-messages admin API on the in-process gateway: list (filtered, paginated), replay to
the broker, drop; refusals are 4xx with a reason and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_gateway_support import DISTRICT, EPOCH, FINGERPRINT, OTHER_DISTRICT, Harness

from gateway.identity import IdentityKeyring, issue_assertion
from storage import failed_messages
from storage.failed_messages import Failure
from storage.tables import audit_log
from storage.tables import failed_messages as table


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        yield harness


def add_failure(h: Harness, n: int, district_id: str | None = DISTRICT, **changes: Any) -> int:
    message = {
        "queue_name": "events",
        "actor_name": "apply_event",
        "args": [],
        "kwargs": {"event": {"id": f"{n:024x}"}, "source": "webhook"},
        "options": {},
        "message_id": f"message-{n}",
        "message_timestamp": 1,
    }
    values: dict[str, Any] = dict(
        message_id=f"message-{n}",
        queue="events",
        actor="apply_event",
        district_id=district_id,
        idempotency_key=f"{n:024x}",
        cause="InvalidEvent: event has no type",
        attempts=1,
        first_failed_at=EPOCH,
        last_failed_at=EPOCH + timedelta(minutes=n),
        message=message,
    )
    values.update(changes)
    with h.rt.engine.begin() as conn:
        return failed_messages.record(conn, Failure(**values))


def status_of(h: Harness, failed_id: int) -> str:
    with h.rt.engine.connect() as conn:
        return str(conn.execute(select(table.c.status).where(table.c.id == failed_id)).scalar_one())


def test_listing_shows_the_cause_and_never_the_message(h: Harness) -> None:
    failed_id = add_failure(h, 1)
    body = h.client.get("/v1/failed-messages", headers=h.admin()).json()
    assert body["next"] is None
    [row] = body["failed_messages"]
    assert row["id"] == failed_id
    assert row["cause"] == "InvalidEvent: event has no type"
    assert row["district_id"] == DISTRICT and row["idempotency_key"] == f"{1:024x}"
    assert row["status"] == "waiting" and row["attempts"] == 1
    assert "message" not in row


def test_listing_filters_by_district_and_pages_by_cursor(h: Harness) -> None:
    ids = [add_failure(h, n) for n in range(1, 4)]
    add_failure(h, 9, district_id=OTHER_DISTRICT)
    first = h.client.get(f"/v1/failed-messages?district_id={DISTRICT}&limit=2", headers=h.admin()).json()
    assert [r["id"] for r in first["failed_messages"]] == ids[:2]
    rest = h.client.get(
        f"/v1/failed-messages?district_id={DISTRICT}&limit=2&after={first['next']}", headers=h.admin()
    ).json()
    assert [r["id"] for r in rest["failed_messages"]] == ids[2:]
    assert rest["next"] is None


def test_replay_sends_the_original_message_with_a_fresh_retry_count(h: Harness) -> None:
    failed_id = add_failure(h, 1)
    response = h.client.post(f"/v1/failed-messages/{failed_id}/replay", headers=h.admin())
    assert response.status_code == 200
    assert response.json()["status"] == "replayed"
    assert response.json()["resolved_by"] == f"admin:{FINGERPRINT}"
    [sent] = h.messages("events")
    assert sent.actor_name == "apply_event"
    assert sent.kwargs == {"event": {"id": f"{1:024x}"}, "source": "webhook"}
    assert sent.message_id == "message-1" and "retries" not in sent.options
    with h.rt.engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action, audit_log.c.subject)))
    assert actions == [("failed_message.replayed", str(failed_id))]


def test_a_message_is_replayed_once(h: Harness) -> None:
    failed_id = add_failure(h, 1)
    h.client.post(f"/v1/failed-messages/{failed_id}/replay", headers=h.admin())
    again = h.client.post(f"/v1/failed-messages/{failed_id}/replay", headers=h.admin())
    assert again.status_code == 409
    assert again.json() == {"error": f"failed message {failed_id} was already replayed"}
    assert len(h.messages("events")) == 1


@pytest.mark.parametrize("how", ["DELETE", "POST"])
def test_drop_resolves_without_sending(h: Harness, how: str) -> None:
    failed_id = add_failure(h, 1)
    if how == "DELETE":
        response = h.client.delete(f"/v1/failed-messages/{failed_id}", headers=h.admin())
    else:
        response = h.client.post(f"/v1/failed-messages/{failed_id}/drop", headers=h.admin())
    assert response.status_code == 200 and response.json()["status"] == "dropped"
    assert h.messages("events") == []
    assert h.client.post(f"/v1/failed-messages/{failed_id}/replay", headers=h.admin()).status_code == 409
    listed = h.client.get("/v1/failed-messages?status=dropped", headers=h.admin()).json()
    assert [r["id"] for r in listed["failed_messages"]] == [failed_id]
    assert h.client.get("/v1/failed-messages", headers=h.admin()).json()["failed_messages"] == []


def test_a_broker_that_cannot_take_the_replay_leaves_the_row_waiting(h: Harness) -> None:
    failed_id = add_failure(h, 1)
    h.break_broker()
    response = h.client.post(f"/v1/failed-messages/{failed_id}/replay", headers=h.admin())
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert status_of(h, failed_id) == "waiting"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/failed-messages/999/replay", 404),
        ("GET", "/v1/failed-messages/999", 404),
        ("POST", "/v1/failed-messages/abc/replay", 422),
        ("POST", "/v1/failed-messages/%C2%B2/drop", 422),
        ("GET", "/v1/failed-messages?status=lost", 422),
        ("GET", "/v1/failed-messages?limit=0", 422),
        ("GET", "/v1/failed-messages?after=x", 422),
    ],
)
def test_refusals_change_nothing(h: Harness, method: str, path: str, status: int) -> None:
    failed_id = add_failure(h, 1)
    response = h.client.request(method, path, headers=h.admin())
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert status_of(h, failed_id) == "waiting"
    assert h.all_messages() == []


def test_the_api_needs_a_token(h: Harness) -> None:
    failed_id = add_failure(h, 1)
    assert h.client.get("/v1/failed-messages").status_code == 401
    assert h.client.post(f"/v1/failed-messages/{failed_id}/replay").status_code == 401
    assert status_of(h, failed_id) == "waiting"


def test_a_message_that_fails_again_after_replay_is_waiting_again_on_the_same_row(h: Harness) -> None:
    failed_id = add_failure(h, 1, attempts=3)
    h.client.post(f"/v1/failed-messages/{failed_id}/replay", headers=h.admin())
    assert add_failure(h, 1, attempts=2, cause="KeyringError: no key 'k2' in ENCRYPTION_KEYS") == failed_id
    row = h.client.get(f"/v1/failed-messages/{failed_id}", headers=h.admin()).json()
    assert row["status"] == "waiting" and row["attempts"] == 5
    assert row["cause"] == "KeyringError: no key 'k2' in ENCRYPTION_KEYS"
    assert row["resolved_by"] is None


def test_a_district_admin_reaches_only_their_tenants_failed_messages(tmp_path: Path) -> None:
    with Harness.open(tmp_path, identity_keys=("k1:identity-secret-0123456789abcdef",)) as h:
        h.add_district(DISTRICT, tenant_id="t-a")
        h.add_district(OTHER_DISTRICT, tenant_id="t-b")
        mine = add_failure(h, 1)
        theirs = add_failure(h, 2, district_id=OTHER_DISTRICT)
        add_failure(h, 3, district_id=None)  # a connect message names no district: operators only
        assertion = issue_assertion(
            IdentityKeyring.from_settings(h.rt.settings), sub="ada", tenant="t-a", role="district_admin"
        )
        as_admin = {"Authorization": f"Bearer {assertion}"}
        listed = h.client.get("/v1/failed-messages", headers=as_admin).json()
        assert [r["id"] for r in listed["failed_messages"]] == [mine]
        assert h.client.post(f"/v1/failed-messages/{theirs}/replay", headers=as_admin).status_code == 404
        assert h.client.delete(f"/v1/failed-messages/{theirs}", headers=as_admin).status_code == 404
        assert status_of(h, theirs) == "waiting"
        assert h.client.post(f"/v1/failed-messages/{mine}/drop", headers=as_admin).status_code == 200
        everything = h.client.get("/v1/failed-messages?status=all", headers=h.admin()).json()
        assert len(everything["failed_messages"]) == 3
