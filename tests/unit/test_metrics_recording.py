"""What the processes record: messages by outcome through the real middleware stack on the
in-process broker, publishes and their failures, HTTP requests by route template, and the
gauges read from the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from test_gateway_support import DISTRICT, OTHER_DISTRICT, Harness

from messaging.broker import make_broker
from rostersync.metrics import record
from rostersync.metrics.exposition import scrape_registry
from rostersync.metrics.state import DeploymentState
from storage.migrate import upgrade
from storage.tables import districts, failed_messages, sync_runs


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def broker() -> StubBroker:
    # Failed messages cannot be recorded in an empty database: FailureRecord logs it and goes on.
    made = make_broker(None, failure_engine=lambda: create_engine("sqlite://"))
    assert isinstance(made, StubBroker)
    return made


def test_messages_are_counted_by_outcome_with_their_durations(broker: StubBroker) -> None:
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    attempts: list[int] = []

    def fine() -> None:
        pass

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("once")

    def doomed() -> None:
        raise ValueError("always")

    options = {"broker": broker, "queue_name": queue, "min_backoff": 1, "max_backoff": 2}
    actors = [
        dramatiq.actor(fine, **options),
        dramatiq.actor(flaky, max_retries=3, **options),
        dramatiq.actor(doomed, max_retries=0, **options),
    ]
    worker = dramatiq.Worker(broker, worker_timeout=20)
    worker.start()
    try:
        for actor in actors:
            actor.send()
        broker.join(queue)
        worker.join()
    finally:
        worker.stop()

    def count(name: str, actor: str) -> float:
        return sample(name, queue=queue, actor=actor)

    assert [count("rostersync_messages_processed_total", a) for a in ("fine", "flaky", "doomed")] == [1, 2, 1]
    assert count("rostersync_message_duration_seconds_count", "flaky") == 2
    assert [count("rostersync_messages_failed_total", a) for a in ("fine", "flaky", "doomed")] == [0, 1, 1]
    assert count("rostersync_messages_retried_total", "flaky") == 1
    assert count("rostersync_messages_retried_total", "doomed") == 0
    assert count("rostersync_messages_given_up_total", "doomed") == 1
    assert count("rostersync_messages_given_up_total", "flaky") == 0
    # Three sends, and the retry twice: into the delay queue, then back when it was due.
    assert sum(count("rostersync_messages_published_total", a) for a in ("fine", "flaky", "doomed")) == 5


def test_a_batch_of_events_is_counted_by_source_and_outcome_with_each_applied_lag() -> None:
    now = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)
    made = f"{int(now.timestamp()) - 4:08x}" + "0" * 16  # made four seconds before now
    before = {
        (source, outcome): sample("rostersync_events_total", source=source, outcome=outcome)
        for source in ("webhook", "other") for outcome in ("applied", "duplicate")
    }  # fmt: skip
    lag_count = sample("rostersync_event_lag_seconds_count", source="webhook")
    lag_sum = sample("rostersync_event_lag_seconds_sum", source="webhook")
    record.events_handled(
        [(made, "webhook", "applied"), (made, "webhook", "applied"), (made, "webhook", "duplicate"),
         ("not-a-position", "webhook", "applied"), (made, "forged-label", "applied")],
        now,
    )  # fmt: skip

    def added(source: str, outcome: str) -> float:
        return sample("rostersync_events_total", source=source, outcome=outcome) - before[source, outcome]

    assert added("webhook", "applied") == 3 and added("webhook", "duplicate") == 1
    assert added("other", "applied") == 1  # a label from a message stays bounded
    assert sample("rostersync_event_lag_seconds_count", source="webhook") - lag_count == 2
    assert sample("rostersync_event_lag_seconds_sum", source="webhook") - lag_sum == 8.0


def test_a_publish_the_broker_refuses_is_counted_as_a_failure(broker: StubBroker) -> None:
    queue = f"undeclared-{uuid.uuid4().hex[:8]}"
    message = dramatiq.Message(queue_name=queue, actor_name="nobody", args=(), kwargs={}, options={})
    with pytest.raises(dramatiq.errors.QueueNotFound):
        broker.enqueue(message)
    assert sample("rostersync_publish_failures_total", queue=queue, actor="nobody") == 1
    assert sample("rostersync_messages_published_total", queue=queue, actor="nobody") == 0


def test_http_requests_are_labelled_by_route_template_never_by_path(tmp_path: Path) -> None:
    with Harness.open(tmp_path) as h:
        h.add_district()
        before = sample(
            "rostersync_http_requests_total", method="GET", route="/v1/districts/{district_id}", status="200"
        )
        assert h.client.get(f"/v1/districts/{DISTRICT}", headers=h.admin()).status_code == 200
        assert h.client.get(f"/v1/districts/{OTHER_DISTRICT}", headers=h.admin()).status_code == 404
        assert h.client.get("/no/such/page").status_code == 404
        scraped = h.client.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.text
    assert DISTRICT not in text and OTHER_DISTRICT not in text and "/no/such/page" not in text
    labels = {"method": "GET", "route": "/v1/districts/{district_id}"}
    assert sample("rostersync_http_requests_total", **labels, status="200") == before + 1
    assert sample("rostersync_http_requests_total", **labels, status="404") >= 1
    assert sample("rostersync_http_requests_total", method="GET", route="(unmatched)", status="404") >= 1
    assert sample("rostersync_http_request_duration_seconds_count", **labels) >= 2
    assert sample("rostersync_db_pool_capacity") > 0  # the gateway's engine is instrumented


def _gauges(collector: DeploymentState) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(scrape_registry(collector)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith(("rostersync_connections", "rostersync_districts", "rostersync_last"))
        or family.name.startswith(
            ("rostersync_events_cursor", "rostersync_failed_messages", "rostersync_state")
        )
        for s in family.samples
    }


def test_the_database_gauges_show_held_runs_reauth_failed_messages_and_reconcile_times(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    upgrade(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    reconciled = now - timedelta(hours=30)
    with engine.begin() as conn:
        conn.execute(
            districts.insert(),
            [
                {
                    "id": DISTRICT,
                    "status": "active",
                    "connected_at": now - timedelta(days=40),
                    "events_cursor_at": now - timedelta(minutes=4),
                },
                {
                    "id": OTHER_DISTRICT,
                    "status": "needs_reauth",
                    "connected_at": now - timedelta(days=3),
                    "events_cursor_at": None,
                },
            ],
        )
        runs = [
            ("r1", DISTRICT, "full", "succeeded", now - timedelta(hours=31), reconciled),
            ("r2", DISTRICT, "reconcile", "held", now - timedelta(hours=7), None),
            ("r3", OTHER_DISTRICT, "full", "failed", now - timedelta(hours=2), now - timedelta(hours=2)),
        ]
        conn.execute(
            sync_runs.insert(),
            [
                {
                    "id": i,
                    "district_id": d,
                    "kind": k,
                    "status": s,
                    "generation": 1,
                    "queued_at": q,
                    "finished_at": f,
                }
                for i, d, k, s, q, f in runs
            ],
        )
        message = {"queue": "apply", "actor": "apply_page", "cause": "x", "attempts": 1, "message": {}}
        conn.execute(
            failed_messages.insert(),
            [
                {
                    **message,
                    "message_id": "m1",
                    "first_failed_at": now,
                    "last_failed_at": now,
                    "status": "waiting",
                },
                {
                    **message,
                    "message_id": "m2",
                    "first_failed_at": now,
                    "last_failed_at": now,
                    "status": "dropped",
                },
            ],
        )
    gauges = _gauges(DeploymentState(engine))
    assert gauges[("rostersync_state_up", ())] == 1
    assert gauges[("rostersync_connections", (("status", "active"),))] == 1
    assert gauges[("rostersync_connections", (("status", "needs_reauth"),))] == 1
    assert gauges[("rostersync_connections", (("status", "syncing"),))] == 0
    assert gauges[("rostersync_districts_latest_run", (("status", "held"),))] == 1
    assert gauges[("rostersync_districts_latest_run", (("status", "failed"),))] == 1
    assert gauges[("rostersync_failed_messages_waiting", ())] == 1
    # Only the districts the scheduler keeps reconciling and polling carry a district label.
    last = gauges[("rostersync_last_reconcile_timestamp_seconds", (("district_id", DISTRICT),))]
    assert abs(last - reconciled.timestamp()) < 1
    lag = gauges[("rostersync_events_cursor_lag_seconds", (("district_id", DISTRICT),))]
    assert 240 <= lag < 300
    assert not [key for key in gauges if ("district_id", OTHER_DISTRICT) in key[1]]


def test_an_unreadable_database_says_so_instead_of_failing_the_scrape(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'no-schema.sqlite3'}")
    assert _gauges(DeploymentState(engine)) == {("rostersync_state_up", ()): 0}
