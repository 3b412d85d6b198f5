"""The memory target: the highest peak of any worker process over both large syncs, the
gateway and the simulator aside."""

from __future__ import annotations

from bench.scenarios import memory


def test_the_peak_is_the_highest_of_any_worker_over_both_syncs() -> None:
    initial = [
        {"role": "gateway", "peak_rss_mb": 400.0},
        {"role": "worker-apply/child", "peak_rss_mb": 225.0},
    ]
    scaling = [{"role": "worker-main/child", "peak_rss_mb": 253.0}]
    result = memory(initial, scaling)
    assert result["targets"]["max_worker_peak_rss_mb"] == {"target": "< 300 MB", "measured": 253.0}
    assert result["figures"] == {"initial_sync_1_apply_process": initial, "initial_sync_scaling": scaling}
