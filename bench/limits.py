"""The raw limits each scenario is compared with, measured in the same run on the same services:
writes (see raw_write), messages through a no-op Dramatiq actor, and a bare signed-webhook
gateway publishing through the product's asynchronous publisher, loaded by wrk (bench.wrk)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from bench import raw_write, wrk
from bench.cpu_use import CpuMeter
from bench.harness import WEBHOOK_SECRET, spawn, stop_process, wait_until
from bench.stats import rate
from bench.webhooks import Event, run_loadgen, summarise
from simulator.testing import free_port

NOOP_QUEUE = "bench_noop"
RAW_GATEWAY_QUEUE = "bench_rawgw"
BENCH_QUEUES = (NOOP_QUEUE, RAW_GATEWAY_QUEUE)

measure_raw_write = raw_write.measure


def consumers(broker_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        return int(channel.queue_declare(queue=queue, passive=True).method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0  # not declared yet
    finally:
        if connection.is_open:
            connection.close()


def consuming_since(broker_url: str, queue: str) -> float:
    """Wait for `queue`'s first consumer; the wall clock when it was seen (each poll opens a
    connection, some ms: a drain timed from here is at most that much too short)."""
    wait_until(lambda: consumers(broker_url, queue) > 0, timeout=120, what=f"a consumer on {queue}", every=0)
    return time.time()


def raw_messages(
    broker_url: str, prefix: str, log_dir: Path, *, count: int, payload_bytes: int, threads: int,
    prefetch: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """`count` messages of about `payload_bytes` published first, then drained by a no-op actor:
    from its consumer's start to the last done. The product's drains are timed the same way."""
    queue = f"{prefix}{NOOP_QUEUE}"
    done_file = log_dir / f"noop-{time.monotonic_ns()}.txt"
    env = {
        **os.environ,
        "BENCH_BROKER_URL": broker_url,
        "BENCH_NOOP_QUEUE": queue,
        "BENCH_NOOP_OUT": str(done_file),
    }
    if prefetch:
        env["dramatiq_queue_prefetch"] = str(prefetch)  # what WORKER_PREFETCH sets in the product
    broker = RabbitmqBroker(url=broker_url, confirm_delivery=False, middleware=[])
    broker.declare_queue(queue)
    pad = "x" * max(0, payload_bytes - 60)
    started = time.perf_counter()
    for _ in range(count):
        message: dramatiq.Message = dramatiq.Message(
            queue_name=queue, actor_name="noop", args=(), kwargs={"sent": time.time(), "pad": pad},
            options={},
        )  # fmt: skip
        broker.enqueue(message)
    publish_s = time.perf_counter() - started
    broker.close()
    args = [sys.executable, "-m", "dramatiq", "bench.noop_worker", "--processes", "1"]
    args += ["--threads", str(threads), "--queues", queue, "--skip-logging"]
    with open(log_dir / "noop-worker.log", "ab") as log:
        worker = spawn(args, env, log)
        try:
            consuming = consuming_since(broker_url, queue)
            with CpuMeter({"worker": worker.pid}) as cpu:  # from its consumer's start, as the drains
                lines = wait_until(
                    lambda: _done_lines(done_file, count), timeout=120 + count / 50, what="no-op messages"
                )
        finally:
            stop_process(worker)
    finished = [float(line.split()[1]) for line in lines]
    seconds = max(finished) - min(consuming, *finished)  # a few messages may beat the poll
    return {
        "messages": count,
        "payload_bytes": payload_bytes,
        "worker": {"processes": 1, "threads": threads, "prefetch": prefetch or 2 * threads},
        "publish_seconds": round(publish_s, 3),
        "publish_per_s": rate(count, publish_s),
        "seconds": round(seconds, 3),
        "messages_per_s": rate(count, seconds),
        "cpu_ms_per_message": cpu.per_event_ms(count),
    }


def _done_lines(path: Path, count: int) -> list[str] | None:
    if not path.exists():
        return None
    lines = path.read_text().splitlines()
    return lines if len(lines) >= count else None


class RawGateway:
    """The bare endpoint in its own uvicorn process, publishing to a queue of this run."""

    def __init__(self, broker_url: str, prefix: str, log_dir: Path) -> None:
        self.queue = f"{prefix}{RAW_GATEWAY_QUEUE}"
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "BENCH_BROKER_URL": broker_url, "BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET}
        port = self.url.rsplit(":", 1)[1]
        self._log = open(log_dir / "raw-gateway.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = spawn(
            [sys.executable, "-m", "bench.raw_gateway", "--port", port, "--queue", self.queue], env, self._log
        )
        wait_until(self._up, timeout=60, what="the raw gateway")

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def load(
        self, events: list[Event], *, mode: str, concurrency: int, rate_per_s: float = 0
    ) -> dict[str, Any]:
        url = f"{self.url}/webhooks/clever"
        if mode == "closed" and wrk.available():
            return wrk.burst(url, WEBHOOK_SECRET, events, connections=concurrency, cap_seconds=120)
        result = run_loadgen(
            url, WEBHOOK_SECRET, events, mode=mode, concurrency=concurrency, rate_per_s=rate_per_s
        )
        return summarise(result)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
