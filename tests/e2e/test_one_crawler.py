"""One crawler per run and no commit stranded by a failed publish, with worker and scheduler
processes on PostgreSQL, RabbitMQ and the simulator: a duplicated ingest message, Clever's rate
limit outlasting the bound a worker may sleep, and a broker that is away when a sync is
requested."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack, wait_until
from expectations import assert_database_matches
from sqlalchemy import select
from tcp_proxy import TcpProxy

from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from services.sync_requests import request_sync
from storage import connections, outbox
from storage.tables import sync_runs

pytestmark = pytest.mark.e2e


def runtime_for(stack: Stack, broker_url: str) -> Runtime:
    settings = Settings.from_env({**stack.env, "BROKER_URL": broker_url})
    return Runtime(settings, broker=make_broker(broker_url, connection_attempts=1))


def connect(stack: Stack, rt: Runtime) -> str:
    """The stored connection the OAuth flow would leave behind."""
    district = stack.sim.district
    assert district.token is not None
    with rt.engine.begin() as conn:
        connections.save_connection(
            conn,
            district.id,
            name=None,
            token_ciphertext=rt.keyring.encrypt(district.token),
            token_id=None,
            scopes=["read:district_admins", "read:users"],
            authorized_by=None,
        )
    return district.id


def request(rt: Runtime, district_id: str) -> None:
    """The documented contract for another service: a `request_sync` message."""
    rt.publish("ingest", "request_sync", {"district_id": district_id, "kind": "full", "requested_by": "test"})


def log_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # Dramatiq's own plain lines
    return records


def log_events(path: Path) -> list[str]:
    return [str(record.get("event", "")) for record in log_records(path)]


def test_two_crawlers_on_one_run_end_in_one_completion(
    make_stack: Any, broker_url: str, tmp_path: Path
) -> None:
    stack = make_stack(
        schools=3, gateway=False, workers=0, extra_env={"PAGE_LIMIT": "40", "LOG_LEVEL": "INFO"}
    )
    worker_log = tmp_path / "worker.log"
    stack.start_worker(threads=4, log_path=worker_log)
    rt = runtime_for(stack, broker_url)
    district_id = connect(stack, rt)
    request(rt, district_id)
    (first,) = stack.wait_for_runs(district_id, 1)
    assert first["status"] == "succeeded", first["error"]

    # A resync a premature finish would damage: every row exists, so unseen rows would go.
    stack.sim.set_faults(latency_ms=60)
    request(rt, district_id)

    def crawling() -> Any:
        found = stack.runs(district_id)
        run = found[-1] if len(found) == 2 else None
        return run if run and run["pages_published"] >= 3 and not run["ingest_done"] else None

    run = wait_until(crawling, what="the second crawl to be under way")
    # The same ingest message again, as RabbitMQ redelivers one it took back.
    rt.publish("ingest", "ingest_run", {"district_id": district_id, "run_id": run["id"], "generation": 1})

    ranks: list[int] = []

    def ended() -> Any:
        with stack.engine.connect() as conn:
            row = conn.execute(select(sync_runs).where(sync_runs.c.id == run["id"])).one()._mapping
        ranks.append(int(row["checkpoint_rank"]))
        return row if row["status"] not in ("queued", "running") else None

    second = wait_until(ended, what="the second run to end")
    stack.sim.clear_faults()
    assert second["status"] == "succeeded", second["error"]
    assert ranks == sorted(ranks), "the checkpoint moved backwards"
    assert second["crawl_token"] >= 2 and len(second["crawl_starts"]) >= 2
    events = log_events(worker_log)
    assert events.count("ingest.superseded") >= 1
    assert events.count("sync.succeeded") == 2  # the second run finished once
    # Every entity the first run created, the second saw unchanged: none twice, none missing.
    for entity_type, outcome in first["counters"].items():
        if entity_type == "bell_schedule":
            continue
        assert second["counters"][entity_type].get("unchanged", 0) == outcome.get("created", 0), entity_type
        assert second["counters"][entity_type].get("deactivated", 0) == 0, entity_type
    assert_database_matches(stack.engine, district_id, stack.sim.snapshot())


def test_a_rate_limit_wait_longer_than_the_bound_hands_on_to_a_delayed_message(
    make_stack: Any, broker_url: str, tmp_path: Path
) -> None:
    stack = make_stack(
        schools=3,
        gateway=False,
        workers=0,
        extra_env={"PAGE_LIMIT": "100", "LOG_LEVEL": "INFO", "RATE_LIMIT_HANDOFF_SECONDS": "0.5"},
    )
    worker_log = tmp_path / "worker.log"
    stack.start_worker(threads=2, log_path=worker_log)
    # Windows of two seconds: an exhausted budget means a wait well beyond the half-second bound.
    stack.sim.set_rate_limit(6, 2.0)
    rt = runtime_for(stack, broker_url)
    district_id = connect(stack, rt)
    request(rt, district_id)
    (run,) = stack.wait_for_runs(district_id, 1)
    stack.sim.set_rate_limit(1200, 60.0)
    assert run["status"] == "succeeded", run["error"]
    records = log_records(worker_log)
    hand_offs = [r for r in records if r.get("event") == "ingest.rate_limit_hand_off"]
    long_waits = [r for r in records if r.get("event") == "clever.rate_limit_wait" and r["seconds"] > 0.5]
    # Every wait beyond the bound was handed on, none slept through.
    assert len(hand_offs) == len(long_waits) >= 1
    assert len(run["crawl_starts"]) == len(hand_offs) + 1  # each hand-off started one more crawl
    assert_database_matches(stack.engine, district_id, stack.sim.snapshot())


def test_a_sync_requested_while_the_broker_is_away_is_relayed_and_finishes(
    make_stack: Any, broker_url: str
) -> None:
    stack = make_stack(schools=2, gateway=False)
    proxy = TcpProxy("127.0.0.1", 5672)
    proxy.start()
    cut = runtime_for(stack, broker_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}"))
    district_id = connect(stack, cut)
    proxy.stop()  # the requester's broker connection goes away before it publishes

    ticket = request_sync(cut, district_id, kind="full", requested_by="test")
    assert ticket.created
    with cut.engine.connect() as conn:
        (left,) = outbox.pending(conn)
        run = conn.execute(select(sync_runs).where(sync_runs.c.id == ticket.run_id)).one()._mapping
    assert left["attempts"] == 1 and left["last_error"]
    assert left["message"]["actor_name"] == "ingest_run" and run["status"] == "queued"
    time.sleep(1.0)  # a worker is running: nothing reached it
    assert stack.runs(district_id)[0]["status"] == "queued"

    stack._spawn("scheduler", "--tick", "1")  # its relay publishes what was left behind
    (done,) = stack.wait_for_runs(district_id, 1)
    assert done["id"] == ticket.run_id and done["status"] == "succeeded", done["error"]
    with cut.engine.connect() as conn:
        assert outbox.pending(conn) == []
    assert_database_matches(stack.engine, district_id, stack.sim.snapshot())
    cut.engine.dispose()
