"""Metrics as Prometheus sees them: the gateway, a two-process worker and the scheduler started
as an operator starts them, a district synced and a webhook event applied, then every
`/metrics` endpoint scraped over HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import WEBHOOK_SECRET, wait_until
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from simulator.testing import free_port
from storage.tables import staff_users

pytestmark = pytest.mark.e2e

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> tuple[Samples, set[str]]:
    """Every sample by (name, labels), and every metric name the endpoint declares."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        for sample in family.samples:
            names.add(sample.name)
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, names


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def scrape_until(url: str, ready: Any) -> tuple[Samples, set[str]]:
    def scraped() -> tuple[Samples, set[str]] | None:
        try:
            found = scrape(url)
        except httpx.ConnectError:  # a worker's metrics process is spawned: it may not listen yet
            return None
        return found if ready(found[0]) else None

    return wait_until(scraped, what=f"series at {url}")


def test_every_process_serves_metrics_that_move_with_a_sync(make_stack: Any) -> None:
    stack = make_stack(schools=2, workers=0)
    worker_port, scheduler_port = free_port(), free_port()
    stack.env["METRICS_PORT"] = str(worker_port)
    stack.start_worker(processes=2)
    stack.env["METRICS_PORT"] = str(scheduler_port)
    stack._spawn("scheduler", "--tick", "1")
    del stack.env["METRICS_PORT"]
    worker_url = f"http://127.0.0.1:{worker_port}/metrics"
    scheduler_url = f"http://127.0.0.1:{scheduler_port}/metrics"

    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    (run,) = stack.wait_for_runs(district_id, 1)
    assert run["status"] == "succeeded", run["error"]

    # A delta, for the event series: pushed to the webhook, and polled by the scheduler's poll
    # too (whichever comes first is applied, the other is a duplicate).
    stack.sim.set_webhook(f"{stack.gateway_url}/webhooks/clever", WEBHOOK_SECRET)
    with stack.engine.connect() as conn:
        teacher = conn.execute(select(staff_users.c.clever_id).limit(1)).scalar_one()
    stack.sim.mutate(district_id, op="update", resource="users", id=teacher, data={"name": {"last": "Ortiz"}})

    # The worker: messages by queue and actor, runs, entities, events, Clever and the pool.
    worker, worker_names = scrape_until(
        worker_url, lambda s: value(s, "rostersync_events_total", outcome="applied") >= 1
    )
    for queue, actor in (("connect", "connect_district"), ("ingest", "ingest_run"), ("apply", "apply_page")):
        processed = value(worker, "rostersync_messages_processed_total", queue=queue, actor=actor)
        assert processed >= 1, (queue, actor)
        assert (
            value(worker, "rostersync_message_duration_seconds_count", queue=queue, actor=actor) == processed
        )
    assert value(worker, "rostersync_messages_given_up_total") == 0
    assert value(worker, "rostersync_runs_finished_total", kind="full", outcome="succeeded") == 1
    for entity_type, counts in run["counters"].items():
        if entity_type == "bell_schedule":
            continue  # written when the run ends, not by pages
        for outcome in ("created", "updated", "unchanged"):
            written = value(worker, "rostersync_entities_total", entity_type=entity_type, outcome=outcome)
            assert written == counts.get(outcome, 0), (entity_type, outcome)
    assert value(worker, "rostersync_event_lag_seconds_count") >= 1
    assert value(worker, "rostersync_clever_requests_total", status="200") >= 1
    assert value(worker, "rostersync_clever_request_duration_seconds_count") >= 1
    assert value(worker, "rostersync_clever_rate_limit_remaining") > 0
    assert value(worker, "rostersync_db_pool_capacity") > 0
    assert value(worker, "rostersync_messages_published_total", queue="apply", actor="apply_page") >= 1

    # The gateway: requests by route template, never by raw path; its publishes.
    gateway, gateway_names = scrape_until(  # the push may come after the poll applied the event
        f"{stack.gateway_url}/metrics",
        lambda s: value(s, "rostersync_http_requests_total", route="/webhooks/clever", status="202") >= 1,
    )
    assert value(gateway, "rostersync_http_request_duration_seconds_count", route="/session") >= 1
    assert value(gateway, "rostersync_messages_published_total", queue="connect") >= 1
    assert value(gateway, "rostersync_messages_published_total", queue="events") >= 1
    assert not [ls for (n, ls) in gateway if n.startswith("rostersync_http") and district_id in str(ls)]

    # The scheduler: gauges read from the database, and its own passes.
    scheduler, scheduler_names = scrape_until(
        scheduler_url, lambda s: value(s, "rostersync_scheduler_ticks_total", outcome="ok") >= 1
    )
    assert value(scheduler, "rostersync_state_up") == 1
    assert value(scheduler, "rostersync_connections", status="active") == 1
    assert value(scheduler, "rostersync_connections", status="needs_reauth") == 0
    assert value(scheduler, "rostersync_districts_latest_run", status="succeeded") == 1
    assert value(scheduler, "rostersync_failed_messages_waiting") == 0
    reconciled = value(scheduler, "rostersync_last_reconcile_timestamp_seconds", district_id=district_id)
    assert abs(reconciled - run["finished_at"].timestamp()) < 1

    # Every series the alert rules use is served by one of the processes.
    served = worker_names | gateway_names | scheduler_names
    rules = yaml.safe_load(ALERTS.read_text())
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\brostersync_[a-z0-9_]+", rule["expr"])
    }
    assert used and used <= served, sorted(used - served)
