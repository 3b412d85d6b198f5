"""A sync survives killed workers, Clever's rate limits and faults, and stops cleanly when the
district's token is revoked."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import wait_until
from expectations import assert_database_matches
from sqlalchemy import select

from storage.tables import districts

pytestmark = pytest.mark.e2e


def test_a_worker_killed_mid_sync_resumes_and_ends_in_the_same_state(make_stack: Any) -> None:
    # Small pages and a slow Clever give the crawl many checkpoints to be killed between.
    stack = make_stack(schools=3, extra_env={"PAGE_LIMIT": "40", "APPLY_CHUNK_SIZE": "20"})
    stack.sim.set_faults(latency_ms=60)
    worker = stack.processes[0]
    stack.connect_via_oauth()
    district_id = stack.sim.district.id

    def crawling() -> bool:
        runs = stack.runs(district_id)
        return bool(runs) and runs[0]["pages_published"] >= 5 and not runs[0]["ingest_done"]

    wait_until(crawling, what="the crawl to be under way")
    stack.kill(worker)
    interrupted = stack.runs(district_id)[0]
    assert interrupted["status"] == "running" and not interrupted["ingest_done"]

    stack.sim.clear_faults()
    stack.start_worker()
    (run,) = stack.wait_for_runs(district_id, 1)
    assert run["status"] == "succeeded", run["error"]
    assert run["checkpoint"]["resource"] == "users:teacher"
    assert_database_matches(stack.engine, district_id, stack.sim.snapshot())


def test_rate_limits_and_faults_slow_the_sync_but_do_not_change_its_result(make_stack: Any) -> None:
    stack = make_stack(schools=3, extra_env={"PAGE_LIMIT": "50"})
    district = stack.sim.district
    # A tight budget the client must pace itself to, two 429s for certain (as when another
    # integration spends the same token's budget), a quarter of answers failing, and latency.
    stack.sim.set_rate_limit(10, 1.0)
    stack.sim.set_faults(
        latency_ms=20, error_rate=0.25, error_statuses=[500, 502, 503], seed=7, fail_next=[429, 429]
    )
    stack.connect_via_oauth()
    (run,) = stack.wait_for_runs(district.id, 1)
    assert run["status"] == "succeeded", run["error"]
    statuses = {r["status"] for r in stack.sim.requests()}
    assert 429 in statuses and {500, 502, 503} & statuses, "the sync met no rate limit or fault"
    stack.sim.clear_faults()
    assert_database_matches(stack.engine, district.id, stack.sim.snapshot())


def test_a_revoked_token_ends_in_needs_reauth_not_an_endless_retry(make_stack: Any) -> None:
    stack = make_stack(schools=1)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    stack.wait_for_runs(district_id, 1)

    stack.sim.revoke_token(district_id)
    stack.sim.clear_requests()
    with stack.admin() as admin:
        assert admin.post(f"/v1/districts/{district_id}/sync").status_code == 202
    second = stack.wait_for_runs(district_id, 2)[-1]
    assert second["status"] == "failed"
    with stack.engine.connect() as conn:
        status = conn.execute(select(districts.c.status).where(districts.c.id == district_id)).scalar_one()
    assert status == "needs_reauth"
    unauthorized = [r for r in stack.sim.requests() if r["status"] == 401]
    assert 1 <= len(unauthorized) <= 3
    with stack.admin() as admin:
        refused = admin.post(f"/v1/districts/{district_id}/sync")
    assert refused.status_code == 409
