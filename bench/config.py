"""What a bench run measures and at which sizes (the defaults are the published scenarios)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchConfig:
    small_schools: int = 10
    large_schools: int = 1_000
    latency_ms: float = 20.0  # simulated Clever latency of scenario 1
    seed: int = 1
    webhook_events: int = 6_000  # closed-loop burst (throughput)
    webhook_concurrency: int = 32
    webhook_rounds: int = 3  # bursts and drains, each beside its limit; the median ratio counts
    fixed_rate: float = 0.0  # offered events/s of the latency phase; 0: half the raw gateway limit
    fixed_seconds: float = 5.0
    fixed_pool: int = 64  # connections the open-loop generator may hold
    threads: int = 4  # per worker process, as in production
    events_threads: int = 16  # the events worker's, as in docker-compose.yml
    events_prefetch: int = 256  # its messages held per queue (WORKER_PREFETCH), likewise
    scaling_processes: int = 2
    page_limit: int = 10_000
    apply_chunk_size: int = 1_000
    log_level: str = "INFO"
    run_timeout: float = 900.0  # a bound on waiting, not a speed assertion
    profile_dir: Path | None = None
