"""The benchmark harness end to end on a tiny district: every scenario is reported with raw
figures, its limits and ratios. Sizes are tiny and nothing is asserted about wall time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report
from bench.config import BenchConfig
from bench.runner import run_bench

pytestmark = pytest.mark.integration

SCENARIOS = (
    "1_initial_sync_small",
    "2_initial_sync_large",
    "3_nightly_reconcile",
    "4_webhooks",
    "5_memory",
    "6_scaling",
)
TINY = BenchConfig(
    small_schools=1,
    large_schools=1,
    latency_ms=5,
    webhook_events=20,
    webhook_concurrency=4,
    webhook_rounds=2,
    fixed_rate=40,
    fixed_seconds=0.5,
    fixed_pool=4,
    threads=2,
    log_level="WARNING",
    run_timeout=180,
)


@pytest.mark.timeout(600)
def test_the_bench_reports_every_scenario_with_figures_limits_and_ratios(
    tmp_path: Path, postgres_url: str, broker_url: str
) -> None:
    admin_url = postgres_url.rsplit("/", 1)[0] + "/postgres"
    results = run_bench(TINY, admin_url=admin_url, broker_url=broker_url, log_dir=tmp_path / "logs")
    json_path, md_path = report.write(results, tmp_path / "out")
    written = json.loads(json_path.read_text())

    assert written["machine"]["cpu_count"] and written["machine"]["postgresql"]
    assert set(written["scenarios"]) == set(SCENARIOS)
    for name in SCENARIOS:
        scenario = written["scenarios"][name]
        assert scenario["figures"], name
        # A CPU ratio is None when a tiny run's process used less than a clock tick of CPU.
        rates = {k: v for k, v in scenario["ratios"].items() if "_cpu_" not in k}
        assert rates and all(v is not None for v in rates.values()), name
        assert name in md_path.read_text()

    s = written["scenarios"]
    assert s["1_initial_sync_small"]["figures"]["status"] == "succeeded"
    assert s["1_initial_sync_small"]["limits"]["raw_write"]["insert_rows_per_s"] > 0
    assert s["2_initial_sync_large"]["limits"]["raw_messages"]["messages_per_s"] > 0
    assert s["3_nightly_reconcile"]["targets"]["rows_written_by_counters"]["measured"] == 0
    webhooks = s["4_webhooks"]
    # The burst waited in the queue while the events worker was stopped; then it was applied.
    assert webhooks["figures"]["burst"]["all_accepted"]
    assert webhooks["figures"]["drain"]["events_applied"] > 0
    assert webhooks["figures"]["drain"]["applied_per_s"] > 0
    assert webhooks["figures"]["fixed_rate"]["applied"]["event_to_row"]["p99_ms"] is not None
    assert webhooks["limits"]["raw_gateway_burst"]["accepted_per_s"] > 0
    # Each round times a burst and a drain beside their limits; the median round is reported.
    assert len(webhooks["figures"]["by_round"]) == 2
    assert webhooks["figures"]["burst"]["accepted_per_s"] in {
        r["accepted_per_s"] for r in webhooks["figures"]["by_round"]
    }
    assert {"gateway_cpu_per_event_vs_raw_gateway", "worker_cpu_per_event_vs_raw_messages"} <= set(
        webhooks["ratios"]
    )
    # The second latency phase runs below the first's rate, or says why it did not.
    calm = webhooks["figures"]["fixed_rate_with_headroom"]
    assert "skipped" in calm or calm["offered_per_s"] <= webhooks["figures"]["fixed_rate"]["offered_per_s"]
    cpu = webhooks["figures"]["cpu_per_event"]
    # Twenty events may cost less than a clock tick of a process's CPU: present, never negative.
    assert cpu["accepting_ms"]["gateway"] >= 0 and cpu["applying_ms"]["worker-events"] >= 0
    assert cpu["total_ms"] >= cpu["accepting_ms"]["gateway"] + cpu["applying_ms"]["worker-events"]
    peaks = s["5_memory"]["figures"]["initial_sync_1_apply_process"]
    assert any(p["role"].startswith("worker") and p["peak_rss_mb"] > 0 for p in peaks)
    scaling = s["6_scaling"]
    assert scaling["figures"]["status"] == "succeeded"
    # Beside the speed-up, what bounds it: the crawl's time and how busy the cores were.
    assert scaling["figures"]["crawl_seconds"] > 0 and scaling["limits"]["one_process_crawl_seconds"] > 0
    assert scaling["figures"]["cpu"]["ms_per_1000_entities"]["worker-apply"] > 0
    assert 0 < scaling["figures"]["cpu"]["machine_busy_share"] <= 1.5
