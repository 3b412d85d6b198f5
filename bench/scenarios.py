"""The six scenarios. Each records raw figures, the limit it is compared with (measured in the
same run), the ratio, and the published target beside the measured value (never pass/fail)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench import infra, limits, profiling
from bench.config import BenchConfig
from bench.cpu_use import CpuMeter, sync_cpu
from bench.harness import Deployment
from bench.resources import RssSampler
from bench.stats import ratio, target
from bench.sync_metrics import entity_counts, sync_figures
from bench.webhook_scenario import webhook_scenario
from simulator.testing import SimulatorHandle, start_simulator

Result = dict[str, Any]


@dataclass
class Services:
    database_url: str
    engine: Engine
    broker_url: str
    queue_prefix: str
    log_dir: Path


def deployment(cfg: BenchConfig, svc: Services, sim: SimulatorHandle) -> Deployment:
    return Deployment(
        database_url=svc.database_url,
        broker_url=svc.broker_url,
        queue_prefix=svc.queue_prefix,
        sim=sim,
        engine=svc.engine,
        log_dir=svc.log_dir,
        page_limit=cfg.page_limit,
        apply_chunk_size=cfg.apply_chunk_size,
        threads=cfg.threads,
        events_threads=cfg.events_threads,
        events_prefetch=cfg.events_prefetch,
        log_level=cfg.log_level,
    )


def connect_and_sync(cfg: BenchConfig, dep: Deployment, district_id: str, runs_before: int) -> Result:
    clicked = time.time()
    dep.connect()
    run = dep.wait_for_run(district_id, runs_before + 1, timeout=cfg.run_timeout)
    return sync_figures(dep.engine, run, clicked)


def small_sync(cfg: BenchConfig, svc: Services) -> Result:
    """1. Initial sync of a small district with simulated Clever latency, connect → succeeded."""
    sim = start_simulator(
        schools=cfg.small_schools, seed=cfg.seed, extra_args=["--latency-ms", str(cfg.latency_ms)]
    )
    dep = deployment(cfg, svc, sim)
    try:
        dep.start(apply_processes=1)
        sim.clear_requests()
        figures = connect_and_sync(cfg, dep, sim.district.id, 0)
        data_requests = [r for r in sim.requests() if str(r["path"]).startswith("/v3")]
        figures["entities"] = entity_counts(svc.engine, sim.district.id)
        figures["clever_data_requests"] = len(data_requests)
        raw = limits.measure_raw_write(svc.database_url, sim.district.id)
    finally:
        dep.stop()
        sim.stop()
    # The floor of any sync: each Clever request waited for in turn, plus the raw writes.
    fetch_floor = round(len(data_requests) * cfg.latency_ms / 1000, 3)
    floor = round(fetch_floor + raw["insert_seconds"], 3)
    infra.truncate_all(svc.engine)
    return {
        "title": f"Initial sync, {cfg.small_schools} schools, {cfg.latency_ms:g} ms Clever latency",
        "figures": figures,
        "limits": {"raw_write": raw, "sequential_fetch_floor_seconds": fetch_floor, "floor_seconds": floor},
        "ratios": {
            "apply_rows_per_s_vs_raw_write": ratio(figures["apply_rows_per_s"], raw["insert_rows_per_s"]),
            "wall_vs_floor": ratio(figures["wall_seconds"], floor),
        },
        "targets": {"wall_seconds": target("< 3 s", figures["wall_seconds"])},
    }


def _payload_estimate(sim: SimulatorHandle, entities: dict[str, int], messages: int) -> int:
    """Average apply-message size: sampled Clever objects (sections without students) times counts."""
    token = sim.district.token or ""
    sizes: dict[str, float] = {}
    with httpx.Client(
        base_url=sim.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        for table, path in (("classrooms", "/v3.0/sections"), ("staff_users", "/v3.0/users?role=teacher")):
            sep = "&" if "?" in path else "?"
            items = [i["data"] for i in http.get(f"{path}{sep}limit=200").json()["data"]]
            for item in items:
                item.pop("students", None)
            sizes[table] = len(json.dumps(items)) / max(1, len(items))
    total = sum(count * sizes.get(table, sizes["staff_users"]) for table, count in entities.items())
    return int(total / max(1, messages))


def _metered(dep: Deployment, sim: SimulatorHandle) -> dict[str, int]:
    """Every process of the deployment, and the simulator standing in for Clever."""
    roots = dep.pids()
    if sim.process is not None:
        roots["simulator"] = sim.process.pid
    return roots


# The processes whose Python a sync's profile records: the crawl, the apply and the simulator.
_SYNC_PROFILED = ("worker-main", "worker-apply", "simulator")


def _profiled(metered: dict[str, int]) -> dict[str, int]:
    return {role: pid for role, pid in metered.items() if role in _SYNC_PROFILED}


def large_sync(cfg: BenchConfig, svc: Services, dep: Deployment, sim: SimulatorHandle) -> Result:
    """2 and 5. Initial sync of the large district with one apply process, RSS sampled."""
    district_id = sim.district.id
    metered = _metered(dep, sim)
    with (
        RssSampler(dep.pids()) as sampler,
        profiling.recording(cfg.profile_dir, _profiled(metered), "initial"),
        CpuMeter(metered) as cpu,
    ):
        figures = connect_and_sync(cfg, dep, district_id, 0)
    figures["entities"] = entity_counts(svc.engine, district_id)
    figures["cpu"] = sync_cpu(cpu, sum(figures["entities"].values()), figures["wall_seconds"])
    raw = limits.measure_raw_write(svc.database_url, district_id)
    payload = _payload_estimate(sim, figures["entities"], figures["pages_published"])
    messages = limits.raw_messages(
        svc.broker_url, svc.queue_prefix, svc.log_dir,
        count=figures["pages_published"], payload_bytes=payload, threads=cfg.threads,
    )  # fmt: skip
    return {
        "title": f"Initial sync, {cfg.large_schools} schools, 1 apply process",
        "figures": figures,
        "limits": {"raw_write": raw, "raw_messages": messages},
        "ratios": {
            "apply_rows_per_s_vs_raw_write": ratio(figures["apply_rows_per_s"], raw["insert_rows_per_s"]),
            "apply_rows_per_s_vs_copy_limit": ratio(
                figures["apply_rows_per_s"], raw["ceiling_insert_rows_per_s"]
            ),
            "wall_rows_per_s_vs_raw_write": ratio(figures["rows_per_s_wall"], raw["insert_rows_per_s"]),
            "wall_vs_raw_write_seconds": ratio(figures["wall_seconds"], raw["insert_seconds"]),
            "wall_vs_raw_messages_seconds": ratio(figures["wall_seconds"], messages["seconds"]),
        },
        "targets": {
            "apply_vs_copy_limit": target(
                ">= 0.5", ratio(figures["apply_rows_per_s"], raw["ceiling_insert_rows_per_s"])
            ),
            "wall_seconds": target("< 60 s", figures["wall_seconds"]),
            "entities": target(">= 250000", sum(figures["entities"].values())),
        },
        "_rss": sampler.report(),
    }


def _rows_touched_since(engine: Engine, district_id: str, since: float) -> int:
    with engine.connect() as conn:
        return sum(
            int(
                conn.execute(
                    text(
                        f'SELECT count(*) FROM "{table}" WHERE district_id = :d '
                        "AND (updated_at >= to_timestamp(:t) OR created_at >= to_timestamp(:t))"
                    ),
                    {"d": district_id, "t": since},
                ).scalar_one()
            )
            for table in infra.ENTITY_TABLES
        )


STATS_FLUSH_SECONDS = 11.0  # PostgreSQL 15 backends publish table statistics within 10 s of idling


def reconcile(
    cfg: BenchConfig, svc: Services, dep: Deployment, sim: SimulatorHandle, initial: Result
) -> Result:
    """3. Nightly reconcile with nothing changed: nothing written, in under half the initial time."""
    district_id = sim.district.id
    time.sleep(STATS_FLUSH_SECONDS)
    before = infra.table_writes(svc.engine, infra.ENTITY_TABLES)
    requested = time.time()
    metered = _metered(dep, sim)
    with profiling.recording(cfg.profile_dir, _profiled(metered), "reconcile"), CpuMeter(metered) as cpu:
        dep.request_sync(district_id, "reconcile")
        run = dep.wait_for_run(district_id, 2, timeout=cfg.run_timeout)
    figures = sync_figures(svc.engine, run, requested)
    figures["cpu"] = sync_cpu(cpu, figures["entities_seen"], figures["wall_seconds"])
    figures["entity_rows_with_newer_timestamps"] = _rows_touched_since(svc.engine, district_id, requested)
    time.sleep(STATS_FLUSH_SECONDS)
    delta = infra.writes_delta(before, infra.table_writes(svc.engine, infra.ENTITY_TABLES))
    figures["pg_stat_entity_writes"] = delta
    tuples_written = sum(v["ins"] + v["upd"] + v["del"] for v in delta.values())
    counters = figures["counters"]
    written = sum(counters[k] for k in ("created", "updated", "restored", "deactivated"))
    initial_wall = initial["figures"]["wall_seconds"]
    raw = initial["limits"]["raw_write"]
    return {
        "title": "Nightly reconcile, nothing changed",
        "figures": figures,
        "limits": {
            "initial_sync_wall_seconds": initial_wall,
            "raw_unchanged_upsert_seconds": raw["unchanged_seconds"],
            "raw_unchanged_rows_per_s": raw["unchanged_rows_per_s"],
        },
        "ratios": {
            "wall_vs_initial_sync": ratio(figures["wall_seconds"], initial_wall),
            "apply_rows_per_s_vs_raw_unchanged": ratio(
                figures["apply_rows_per_s"], raw["unchanged_rows_per_s"]
            ),
        },
        "targets": {
            "rows_written_by_counters": target("0", written),
            "entity_tuples_written_pg_stat": target("0", tuples_written),
            "wall_vs_initial_sync": target("<= 0.4", ratio(figures["wall_seconds"], initial_wall)),
        },
    }


def webhooks(cfg: BenchConfig, svc: Services, dep: Deployment, sim: SimulatorHandle) -> Result:
    """4. Webhooks through the gateway vs the bare endpoint, then latency at a fixed offered load."""
    with profiling.recording(
        cfg.profile_dir, {k: v for k, v in dep.pids().items() if k != "worker-apply"}, "webhooks"
    ):
        return webhook_scenario(cfg, svc.engine, svc.broker_url, svc.queue_prefix, svc.log_dir, dep, sim)


def scaling(cfg: BenchConfig, svc: Services, dep: Deployment, sim: SimulatorHandle, one: Result) -> Result:
    """6. The initial sync again, from an empty database, with more apply processes."""
    infra.truncate_all(svc.engine)
    dep.restart_apply_worker(cfg.scaling_processes)
    with RssSampler(dep.pids()) as sampler, CpuMeter(_metered(dep, sim)) as cpu:
        figures = connect_and_sync(cfg, dep, sim.district.id, 0)
    single = one["figures"]
    return {
        "title": f"Scaling: initial sync with 1 and {cfg.scaling_processes} apply processes",
        "figures": {
            "apply_processes": cfg.scaling_processes,
            "wall_seconds": figures["wall_seconds"],
            "apply_rows_per_s": figures["apply_rows_per_s"],
            "rows_per_s_wall": figures["rows_per_s_wall"],
            # Why more processes may not help: the crawl shares the cores with them.
            "crawl_seconds": figures["phases_seconds"]["started_to_ingest_done"],
            "cpu": sync_cpu(cpu, sum(single["entities"].values()), figures["wall_seconds"]),
            "status": figures["status"],
            "run": figures,
        },
        "limits": {
            "one_process_wall_seconds": single["wall_seconds"],
            "one_process_crawl_seconds": single["phases_seconds"]["started_to_ingest_done"],
            "one_process_machine_busy_share": single["cpu"]["machine_busy_share"],
            "one_process_apply_rows_per_s": single["apply_rows_per_s"],
            "raw_write_rows_per_s": one["limits"]["raw_write"]["insert_rows_per_s"],
        },
        "ratios": {
            "speedup_wall": ratio(single["wall_seconds"], figures["wall_seconds"]),
            "speedup_apply": ratio(figures["apply_rows_per_s"], single["apply_rows_per_s"]),
            "apply_rows_per_s_vs_raw_write": ratio(
                figures["apply_rows_per_s"], one["limits"]["raw_write"]["insert_rows_per_s"]
            ),
        },
        "targets": {},
        "_rss": sampler.report(),
    }


def memory(rss_initial: list[dict[str, Any]], rss_scaling: list[dict[str, Any]]) -> Result:
    """5. Peak RSS of every process during the large initial syncs (workers: target < 300 MB,
    over both syncs: a worker's peak is its highest since it started)."""
    workers = [p for p in (*rss_initial, *rss_scaling) if str(p["role"]).startswith("worker")]
    peak = max((float(p["peak_rss_mb"]) for p in workers), default=None)
    return {
        "title": "Memory: peak RSS per process during the large initial sync",
        "figures": {"initial_sync_1_apply_process": rss_initial, "initial_sync_scaling": rss_scaling},
        "limits": {},
        "ratios": {"max_worker_peak_vs_300_mb": ratio(peak, 300.0)},
        "targets": {"max_worker_peak_rss_mb": target("< 300 MB", peak)},
    }
