"""Scenario 4: signed webhooks through the product gateway and the bare endpoint, a burst for
throughput and a fixed offered load for latency, and event-to-row time read from PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from bench import limits, profiling, wrk
from bench.config import BenchConfig
from bench.cpu_use import CpuMeter, carried_per_s
from bench.harness import WEBHOOK_SECRET, Deployment, wait_until
from bench.resources import RssSampler
from bench.stats import latency_ms, rate, ratio, target
from bench.webhooks import (
    Event,
    first_event_id,
    run_loadgen,
    sent_wall_times,
    staff_users,
    summarise,
    user_events,
)
from messaging import queues
from simulator.testing import SimulatorHandle
from storage.tables import staff_users as staff_table

HEADROOM = 0.6  # the share of the cores' end-to-end capacity offered in the second latency phase


def applied_at(
    engine: Engine, district_id: str, events: list[Event], accepted: list[bool], timeout: float
) -> dict[str, float]:
    """Wait until every accepted event's change is in its row; returns clever_id → updated_at."""
    expected = {e.clever_id: e.last_name for e, ok in zip(events, accepted, strict=True) if ok}
    if not expected:
        return {}  # nothing was accepted, so nothing is to be waited for
    prefix = events[0].last_name[:-6] if events else ""

    def found() -> dict[str, float] | None:
        query = select(staff_table.c.clever_id, staff_table.c.last_name, staff_table.c.updated_at).where(
            staff_table.c.district_id == district_id, staff_table.c.last_name.like(f"{prefix}%")
        )
        with engine.connect() as conn:
            rows = {r.clever_id: r for r in conn.execute(query)}
        done = {cid: rows[cid].updated_at.timestamp() for cid, last in expected.items()
                if cid in rows and rows[cid].last_name == last}  # fmt: skip
        return done if len(done) == len(expected) else None

    return dict(wait_until(found, timeout=timeout, what="webhook events in PostgreSQL", every=0.2))


def _applied_figures(result: dict[str, Any], events: list[Event], done: dict[str, float]) -> dict[str, Any]:
    sent = sent_wall_times(result)
    delays = [done[e.clever_id] - t for e, t in zip(events, sent, strict=True) if e.clever_id in done]
    span = max(done.values(), default=0.0) - result["wall_start"]
    return {
        "events_applied": len(done),
        "seconds_first_send_to_last_row": round(span, 3),
        "applied_per_s": rate(len(done), span),
        "event_to_row": latency_ms(delays),
    }


def _accepted(result: dict[str, Any]) -> list[bool]:
    return [r[3] == 202 for r in result["requests"]]


def burst_load(url: str, events: list[Event], concurrency: int) -> tuple[dict[str, Any], list[bool], float]:
    """(summary, which events were accepted, wall clock at the start) of a closed-loop burst: from
    wrk when installed (a compiled generator is not the bottleneck), else the Python generator."""
    if wrk.available():
        wall_start = time.time()
        figures = wrk.burst(url, WEBHOOK_SECRET, events, connections=concurrency, cap_seconds=120)
        return figures, [figures["all_accepted"]] * len(events), wall_start
    out = run_loadgen(url, WEBHOOK_SECRET, events, mode="closed", concurrency=concurrency)
    return {**summarise(out), "note": wrk.MISSING}, _accepted(out), float(out["wall_start"])


def _drain(consuming: float, done: dict[str, float]) -> dict[str, Any]:
    """The events worker's rate on the burst's queued events: its consumer's start → last row."""
    span = max(done.values(), default=consuming) - min(consuming, *done.values())  # may beat the poll
    return {
        "events_applied": len(done),
        "seconds_consumer_start_to_last_row": round(span, 3),
        "applied_per_s": rate(len(done), span),
    }


def burst_then_drain(
    cfg: BenchConfig, engine: Engine, broker_url: str, dep: Deployment, district_id: str,
    burst: list[Event], label: str,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """(the gateway's burst, the events worker's drain of it). The bare endpoint's burst has no
    consumer and the no-op limit drains a full queue, so the events worker is stopped while the
    gateway takes the burst and started once it is queued: each is timed as its limit is."""
    dep.stop_events_worker()
    try:
        url = f"{dep.gateway_url}/webhooks/clever"
        with CpuMeter({"gateway": dep.pids()["gateway"]}) as burst_cpu:
            figures, accepted, _ = burst_load(url, burst, cfg.webhook_concurrency)
    finally:
        worker = dep.start_events_worker()
    with profiling.recording(cfg.profile_dir, {"worker-events": worker.pid}, f"webhooks-drain-{label}"):
        consuming = limits.consuming_since(broker_url, f"{dep.queue_prefix}{queues.EVENTS}")
        with CpuMeter({"worker-events": worker.pid}) as drain_cpu:  # from its consumer's start
            done = applied_at(engine, district_id, burst, accepted, cfg.run_timeout)
    burst_figures = {**figures, "cpu_ms_per_event": burst_cpu.per_event_ms(len(burst))}
    drain_figures = {**_drain(consuming, done), "cpu_ms_per_event": drain_cpu.per_event_ms(len(done))}
    return burst_figures, drain_figures


@dataclass(frozen=True)
class Round:
    """One round of the throughput comparison: each figure beside the limit timed next to it."""

    raw_burst: dict[str, Any]
    burst: dict[str, Any]
    drain: dict[str, Any]
    raw_messages: dict[str, Any]

    @property
    def accepted_ratio(self) -> float | None:
        return ratio(self.burst["accepted_per_s"], self.raw_burst["accepted_per_s"])

    @property
    def applied_ratio(self) -> float | None:
        return ratio(self.drain["applied_per_s"], self.raw_messages["messages_per_s"])

    @property
    def gateway_cpu_ratio(self) -> float | None:
        """The gateway's CPU per accepted event over the bare endpoint's: what the product's own
        work costs, far steadier from round to round than the rates."""
        return ratio(_cpu_ms(self.burst, "gateway"), _cpu_ms(self.raw_burst, "gateway"))

    @property
    def worker_cpu_ratio(self) -> float | None:
        """The events worker's CPU per event over the no-op worker's per message."""
        noop = _cpu_ms(self.raw_messages, "worker", per="cpu_ms_per_message")
        return ratio(_cpu_ms(self.drain, "worker-events"), noop)

    def summary(self) -> dict[str, Any]:
        return {
            "raw_gateway_accepted_per_s": self.raw_burst["accepted_per_s"],
            "accepted_per_s": self.burst["accepted_per_s"],
            "accepted_vs_raw_gateway": self.accepted_ratio,
            "raw_gateway_cpu_ms_per_event": _cpu_ms(self.raw_burst, "gateway"),
            "gateway_cpu_ms_per_event": _cpu_ms(self.burst, "gateway"),
            "gateway_cpu_vs_raw_gateway": self.gateway_cpu_ratio,
            "raw_messages_per_s": self.raw_messages["messages_per_s"],
            "applied_per_s": self.drain["applied_per_s"],
            "applied_vs_raw_messages": self.applied_ratio,
            "worker_cpu_vs_raw_messages": self.worker_cpu_ratio,
        }


def _cpu_ms(figures: dict[str, Any], role: str, per: str = "cpu_ms_per_event") -> float | None:
    """A process's CPU per event (or message) in a phase's figures; None when not metered."""
    return figures.get(per, {}).get(role)


def median_round(rounds: list[Round], key: Callable[[Round], float | None]) -> Round:
    """The round whose ratio is the median (the lower middle one of an even count)."""
    ordered = sorted(rounds, key=lambda r: key(r) or 0.0)
    return ordered[(len(ordered) - 1) // 2]


def throughput_rounds(
    cfg: BenchConfig, engine: Engine, broker_url: str, prefix: str, log_dir: Path, dep: Deployment,
    district_id: str, raw_gateway: limits.RawGateway, bursts: list[list[Event]],
) -> list[Round]:  # fmt: skip
    """Each round times the bare endpoint's burst, then the gateway's burst of new events and the
    events worker's drain of them, then the no-op drain of as many messages. A figure and its
    limit are timed seconds apart, so a machine that slows down between rounds moves both."""
    rounds = []
    for number, burst in enumerate(bursts, start=1):
        with CpuMeter({"gateway": raw_gateway.process.pid}) as raw_cpu:
            raw_figures = raw_gateway.load(burst, mode="closed", concurrency=cfg.webhook_concurrency)
        raw_burst = {**raw_figures, "cpu_ms_per_event": raw_cpu.per_event_ms(len(burst))}
        product_burst, drain = burst_then_drain(cfg, engine, broker_url, dep, district_id, burst, str(number))
        body_bytes = sum(len(e.body) for e in burst) // max(1, len(burst))
        raw_messages = limits.raw_messages(
            broker_url,
            prefix,
            log_dir,
            count=len(burst),
            payload_bytes=body_bytes + 100,
            # The same shape as the events worker: one process, its threads and its prefetch.
            threads=cfg.events_threads,
            prefetch=cfg.events_prefetch,
        )
        burst_figures = {**product_burst, "concurrency": cfg.webhook_concurrency}
        rounds.append(Round(raw_burst, burst_figures, drain, raw_messages))
    return rounds


def webhook_scenario(
    cfg: BenchConfig, engine: Engine, broker_url: str, prefix: str, log_dir: Path,
    dep: Deployment, sim: SimulatorHandle,
) -> dict[str, Any]:  # fmt: skip
    district_id = sim.district.id
    wanted_fixed = int(cfg.fixed_rate * cfg.fixed_seconds) if cfg.fixed_rate > 0 else cfg.webhook_events
    users = staff_users(sim.base_url, sim.district.token or "", cfg.webhook_events + wanted_fixed)
    # Every event changes a different user; a small district splits what it has between phases.
    burst_n = min(cfg.webhook_events, max(len(users) - wanted_fixed, len(users) // 2))
    with engine.connect() as conn:
        position = conn.execute(
            select(func.max(staff_table.c.source_position)).where(staff_table.c.district_id == district_id)
        ).scalar_one()
    first = first_event_id(position)
    # Each round sends new events to the same users (later ids, so each one is applied).
    bursts = [
        user_events(users[:burst_n], first + r * burst_n, f"Burst{r}x") for r in range(cfg.webhook_rounds)
    ]
    after_bursts = first + cfg.webhook_rounds * burst_n

    # The bare endpoint first: the latency phase is offered half of its limit (unless configured).
    raw_gateway = limits.RawGateway(broker_url, prefix, log_dir)
    try:
        rounds = throughput_rounds(
            cfg, engine, broker_url, prefix, log_dir, dep, district_id, raw_gateway, bursts
        )
        accepted_round = median_round(rounds, lambda r: r.accepted_ratio)
        applied_round = median_round(rounds, lambda r: r.applied_ratio)
        raw_rate = accepted_round.raw_burst["accepted_per_s"]
        offered = cfg.fixed_rate if cfg.fixed_rate > 0 else max(1.0, raw_rate / 2)
        fixed_n = max(1, min(len(users) - burst_n, int(offered * cfg.fixed_seconds)))
        fixed = user_events(users[burst_n : burst_n + fixed_n], after_bursts, "Fixed")
        raw_fixed = raw_gateway.load(fixed, mode="open", concurrency=cfg.fixed_pool, rate_per_s=offered)
    finally:
        raw_gateway.stop()

    url = f"{dep.gateway_url}/webhooks/clever"
    with RssSampler(dep.pids()) as sampler:
        product_fixed, fixed_applied = fixed_rate_phase(cfg, engine, district_id, url, fixed, offered)

    accepted_ratio = accepted_round.accepted_ratio
    applied_ratio = applied_round.applied_ratio
    cpu = cpu_per_event(accepted_round.burst["cpu_ms_per_event"], applied_round.drain["cpu_ms_per_event"])
    # The same again with headroom on the cores: where the latency holds on this machine.
    carried = cpu["carried_per_s_all_cores_busy"]
    headroom: dict[str, Any] = {"offered_as": f"{HEADROOM:g} of what the cores carry by an event's CPU"}
    if carried and HEADROOM * carried < offered:
        calm_rate = HEADROOM * carried
        calm_n = max(1, min(len(users) - burst_n, int(calm_rate * cfg.fixed_seconds)))
        calm = user_events(users[burst_n : burst_n + calm_n], after_bursts + fixed_n, "Calm")
        summary, applied = fixed_rate_phase(cfg, engine, district_id, url, calm, calm_rate)
        headroom.update(summary, offered_per_s=round(calm_rate, 1), applied=applied)
    elif carried:
        headroom["skipped"] = "the first latency phase was offered no more than that"
    else:
        headroom["skipped"] = "no CPU per event was measured to size it by"
    return {
        "title": "Webhooks: signed users.updated events through the gateway",
        "figures": {
            "rounds": len(rounds),
            "burst": accepted_round.burst,
            "drain": applied_round.drain,
            "by_round": [r.summary() for r in rounds],
            "fixed_rate": {
                **product_fixed,
                "offered_per_s": round(offered, 1),
                "offered_as": "configured" if cfg.fixed_rate > 0 else "half the raw gateway limit",
                "connections": cfg.fixed_pool,
                "applied": fixed_applied,
            },
            "fixed_rate_with_headroom": headroom,
            "event_bytes": sum(len(e.body) for e in bursts[0]) // max(1, burst_n),
            "cpu_per_event": {**cpu, "offered_at_fixed_rate_per_s": round(offered, 1)},
        },
        "limits": {
            "raw_gateway_burst": accepted_round.raw_burst,
            "raw_gateway_fixed_rate": raw_fixed,
            "raw_messages": applied_round.raw_messages,
        },
        "ratios": {
            "accepted_per_s_vs_raw_gateway": accepted_ratio,
            "accepted_per_s_vs_raw_gateway_spread": ratio_spread([r.accepted_ratio for r in rounds]),
            "gateway_cpu_per_event_vs_raw_gateway": accepted_round.gateway_cpu_ratio,
            "gateway_cpu_per_event_vs_raw_gateway_spread": ratio_spread(
                [r.gateway_cpu_ratio for r in rounds]
            ),
            "fixed_rate_p99_vs_raw_gateway_p99": ratio(
                product_fixed["latency"]["p99_ms"], raw_fixed["latency"]["p99_ms"]
            ),
            "applied_per_s_vs_raw_messages": applied_ratio,
            "applied_per_s_vs_raw_messages_spread": ratio_spread([r.applied_ratio for r in rounds]),
            "worker_cpu_per_event_vs_raw_messages": applied_round.worker_cpu_ratio,
        },
        "targets": {
            "accepted_vs_raw_gateway": target(">= 0.8", accepted_ratio),
            "gateway_p99_ms_at_fixed_rate": target("< 50 ms", product_fixed["latency"]["p99_ms"]),
            "event_to_row_p99_ms_at_fixed_rate": target("< 1000 ms", fixed_applied["event_to_row"]["p99_ms"]),
            "applied_vs_raw_messages": target(">= 0.5", applied_ratio),
        },
        "_rss": sampler.report(),
    }


def fixed_rate_phase(
    cfg: BenchConfig, engine: Engine, district_id: str, url: str, events: list[Event], rate_per_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the gateway's figures, the events applied) of a constant offered rate, every worker up.

    From the Python open-loop generator: wrk has no constant-rate mode, and the event-to-row time
    needs each event's own send time (its CPU is reported beside)."""
    out = run_loadgen(
        url, WEBHOOK_SECRET, events, mode="open", concurrency=cfg.fixed_pool, rate_per_s=rate_per_s
    )
    done = applied_at(engine, district_id, events, _accepted(out), cfg.run_timeout)
    return summarise(out), _applied_figures(out, events, done)


def cpu_per_event(accepting: dict[str, float], applying: dict[str, float]) -> dict[str, Any]:
    """An event's CPU in every process it passes through, from the burst (the gateway publishing
    it, RabbitMQ storing it) and the drain (the events worker, RabbitMQ delivering it, PostgreSQL
    writing it); and how many events a second all cores carry at that cost, end to end."""
    total = round(sum(accepting.values()) + sum(applying.values()), 3)
    return {
        "accepting_ms": accepting,
        "applying_ms": applying,
        "total_ms": total,
        "carried_per_s_all_cores_busy": carried_per_s(total),
    }


def ratio_spread(values: list[float | None]) -> str:
    """The lowest and highest of the rounds' ratios."""
    known = [v for v in values if v is not None]
    return f"{min(known)}-{max(known)}" if known else "n/a"
