"""One bench run: a fresh database and queue prefix, the scenarios in order, clean-up."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from bench import infra, limits, scenarios
from bench.config import BenchConfig
from bench.scenarios import Services
from simulator.testing import start_simulator
from storage.database import normalize_url


def run_bench(
    cfg: BenchConfig, *, admin_url: str, broker_url: str, log_dir: Path | None = None, keep_db: bool = False
) -> dict[str, Any]:
    tag = infra.new_tag()
    db_name = f"rostersync_bench_{tag}"
    prefix = f"bench{tag}."
    logs = log_dir or Path(tempfile.mkdtemp(prefix="rostersync-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    url = infra.create_database(admin_url, db_name)
    engine = create_engine(normalize_url(url))
    svc = Services(database_url=url, engine=engine, broker_url=broker_url, queue_prefix=prefix, log_dir=logs)
    started = datetime.now(UTC)
    began = time.monotonic()
    results: dict[str, Any] = {}
    try:
        machine = infra.machine(engine, broker_url)
        results["1_initial_sync_small"] = scenarios.small_sync(cfg, svc)
        results.update(_large(cfg, svc))
    finally:
        engine.dispose()
        infra.delete_queues(broker_url, prefix, limits.BENCH_QUEUES)
        if not keep_db:
            infra.drop_database(admin_url, db_name)
    machine["load_average_1m_at_end"] = infra.load_average()
    return {
        "machine": machine,
        "config": _config(cfg),
        "started_at": started.isoformat(),
        "total_seconds": round(time.monotonic() - began, 1),
        "scenarios": results,
    }


def _large(cfg: BenchConfig, svc: Services) -> dict[str, Any]:
    """Scenarios 2-6 share one large simulated district, started before any timing."""
    sim_started = time.monotonic()
    sim = start_simulator(schools=cfg.large_schools, seed=cfg.seed, timeout=600)
    sim_seconds = round(time.monotonic() - sim_started, 1)
    dep = scenarios.deployment(cfg, svc, sim)
    try:
        dep.start(apply_processes=1)
        initial = scenarios.large_sync(cfg, svc, dep, sim)
        initial["figures"]["simulator_start_seconds"] = sim_seconds
        reconcile = scenarios.reconcile(cfg, svc, dep, sim, initial)
        webhooks = scenarios.webhooks(cfg, svc, dep, sim)
        scaling = scenarios.scaling(cfg, svc, dep, sim, initial)
    finally:
        dep.stop()
        sim.stop()
    rss_initial, rss_scaling = initial.pop("_rss"), scaling.pop("_rss")
    webhooks["figures"]["peak_rss"] = webhooks.pop("_rss")
    return {
        "2_initial_sync_large": initial,
        "3_nightly_reconcile": reconcile,
        "4_webhooks": webhooks,
        "5_memory": scenarios.memory(rss_initial, rss_scaling),
        "6_scaling": scaling,
    }


def _config(cfg: BenchConfig) -> dict[str, Any]:
    values = dict(vars(cfg))
    values.pop("profile_dir", None)
    values.pop("log_level", None)
    return values
