"""`rostersync bench` / `python -m bench`: run every scenario and write latest.json and latest.md."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from bench import report
from bench.config import BenchConfig
from bench.infra import DEFAULT_ADMIN_URL, DEFAULT_BROKER_URL
from bench.runner import run_bench

DEFAULT_OUT = Path(__file__).parent / "results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = BenchConfig()
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--broker-url", default=DEFAULT_BROKER_URL)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where latest.json/latest.md go")
    parser.add_argument("--log-dir", type=Path, default=None, help="process logs (default: a temp dir)")
    parser.add_argument("--profile-dir", type=Path, default=None, help="py-spy profiles (slows the run)")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--small-schools", type=int, default=d.small_schools)
    parser.add_argument("--large-schools", type=int, default=d.large_schools)
    parser.add_argument("--latency-ms", type=float, default=d.latency_ms)
    parser.add_argument("--webhook-events", type=int, default=d.webhook_events)
    parser.add_argument("--webhook-concurrency", type=int, default=d.webhook_concurrency)
    parser.add_argument("--webhook-rounds", type=int, default=d.webhook_rounds)
    parser.add_argument("--fixed-rate", type=float, default=d.fixed_rate)
    parser.add_argument("--fixed-seconds", type=float, default=d.fixed_seconds)
    parser.add_argument("--threads", type=int, default=d.threads, help="threads per worker process")
    parser.add_argument("--events-threads", type=int, default=d.events_threads)
    parser.add_argument("--events-prefetch", type=int, default=d.events_prefetch)
    parser.add_argument("--scaling-processes", type=int, default=d.scaling_processes)
    parser.add_argument("--page-limit", type=int, default=d.page_limit)
    parser.add_argument("--apply-chunk-size", type=int, default=d.apply_chunk_size)
    parser.add_argument("--log-level", default=d.log_level, help="LOG_LEVEL of the processes")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    return BenchConfig(
        small_schools=args.small_schools,
        large_schools=args.large_schools,
        latency_ms=args.latency_ms,
        webhook_events=args.webhook_events,
        webhook_concurrency=args.webhook_concurrency,
        webhook_rounds=max(1, args.webhook_rounds),
        fixed_rate=args.fixed_rate,
        fixed_seconds=args.fixed_seconds,
        threads=args.threads,
        events_threads=args.events_threads,
        events_prefetch=args.events_prefetch,
        scaling_processes=args.scaling_processes,
        page_limit=args.page_limit,
        apply_chunk_size=args.apply_chunk_size,
        log_level=args.log_level,
        profile_dir=args.profile_dir,
    )


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    # Stopping the bench must still stop its processes, delete its queues and drop its database
    # (background shells start it with SIGINT ignored).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    results = run_bench(
        config_from_args(args),
        admin_url=args.database_url,
        broker_url=args.broker_url,
        log_dir=args.log_dir,
        keep_db=args.keep_db,
    )
    json_path, md_path = report.write(results, args.out)
    print(f"wrote {json_path} and {md_path}")
    return 0
