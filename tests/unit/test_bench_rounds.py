"""The webhook comparison's rounds: each ratio is taken within its round, and the round reported
is the median one, the lower middle of an even count."""

from __future__ import annotations

from typing import Any

from bench.webhook_scenario import Round, cpu_per_event, median_round, ratio_spread


def a_round(accepted: float, raw_accepted: float, applied: float, raw_messages: float) -> Round:
    figures: dict[str, Any] = {"accepted_per_s": accepted}
    return Round(
        raw_burst={"accepted_per_s": raw_accepted},
        burst=figures,
        drain={"applied_per_s": applied},
        raw_messages={"messages_per_s": raw_messages},
    )


def test_ratios_are_taken_within_a_round() -> None:
    one = a_round(accepted=3_000, raw_accepted=5_000, applied=2_000, raw_messages=8_000)
    assert one.accepted_ratio == 0.6
    assert one.applied_ratio == 0.25
    assert one.summary()["accepted_vs_raw_gateway"] == 0.6


def test_the_median_round_is_reported_whatever_order_they_ran_in() -> None:
    slow_machine = a_round(accepted=1_000, raw_accepted=2_000, applied=1, raw_messages=1)  # 0.5
    fast_machine = a_round(accepted=4_000, raw_accepted=5_000, applied=1, raw_messages=1)  # 0.8
    middle = a_round(accepted=2_100, raw_accepted=3_000, applied=1, raw_messages=1)  # 0.7
    rounds = [fast_machine, slow_machine, middle]
    assert median_round(rounds, lambda r: r.accepted_ratio) is middle
    # Of two, the lower: a figure is never reported better than half the rounds measured it.
    assert median_round([fast_machine, slow_machine], lambda r: r.accepted_ratio) is slow_machine
    assert ratio_spread([r.accepted_ratio for r in rounds]) == "0.5-0.8"
    assert ratio_spread([None]) == "n/a"


def test_an_events_cpu_adds_every_process_and_says_what_the_cores_carry() -> None:
    cpu = cpu_per_event({"gateway": 0.3, "rabbitmq": 0.2}, {"worker-events": 0.4, "postgresql": 0.1})
    assert cpu["total_ms"] == 1.0
    assert cpu["carried_per_s_all_cores_busy"] is not None and cpu["carried_per_s_all_cores_busy"] > 0


def test_the_gateways_cpu_per_event_is_compared_with_the_bare_endpoints() -> None:
    one = Round(
        raw_burst={"accepted_per_s": 5_000, "cpu_ms_per_event": {"gateway": 0.2, "rabbitmq": 0.1}},
        burst={"accepted_per_s": 3_000, "cpu_ms_per_event": {"gateway": 0.3, "rabbitmq": 0.1}},
        drain={"applied_per_s": 1},
        raw_messages={"messages_per_s": 1},
    )
    assert one.gateway_cpu_ratio == 1.5
    summary = one.summary()
    assert (summary["raw_gateway_cpu_ms_per_event"], summary["gateway_cpu_ms_per_event"]) == (0.2, 0.3)
    # A burst whose CPU was not measured has no ratio, rather than a made-up one.
    assert a_round(accepted=1, raw_accepted=1, applied=1, raw_messages=1).gateway_cpu_ratio is None


def test_the_events_workers_cpu_per_event_is_compared_with_the_no_ops() -> None:
    one = Round(
        raw_burst={"accepted_per_s": 1},
        burst={"accepted_per_s": 1},
        drain={"applied_per_s": 5_000, "cpu_ms_per_event": {"worker-events": 0.12, "rabbitmq": 0.05}},
        raw_messages={"messages_per_s": 10_000, "cpu_ms_per_message": {"worker": 0.08, "rabbitmq": 0.04}},
    )
    assert one.worker_cpu_ratio == 1.5
    assert one.summary()["worker_cpu_vs_raw_messages"] == 1.5
    assert a_round(accepted=1, raw_accepted=1, applied=1, raw_messages=1).worker_cpu_ratio is None
