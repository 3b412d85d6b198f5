"""Webhook load generator, run as its own process (`python -m bench.loadgen SPEC OUT`) so it does
not share a GIL with the gateway. A minimal asyncio HTTP/1.1 keep-alive client keeps its own CPU
cost far below an HTTP library's.

Modes: "closed" (`concurrency` connections send back to back: the most a gateway accepts) and
"open" (requests start at a fixed `rate` whatever the answers; latency counts from the scheduled
start, so a slow gateway cannot hide its queueing).
Output: {"wall_start", "mono_start", "seconds", "requests": [[scheduled, sent, done, status], ...]}
with times in seconds since `mono_start` (wall clock = wall_start + offset).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Record = list[float]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def requests_bytes(url: str, secret: str, bodies: list[bytes]) -> list[bytes]:
    """Whole signed requests, built before the clock starts."""
    parts = urlsplit(url)
    stamp = int(time.time())
    out = []
    for body in bodies:
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Clever-Signature: {sign(secret, stamp, body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(request)
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("closed")
            status, length, close = int(status_line.split()[1]), 0, False
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await self.reader.readexactly(length)
            if close:
                self.close()
            return status
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.close()
            return 0  # a failed request, counted apart from answered ones

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(host: str, port: int, reqs: list[bytes], concurrency: int, t0: float) -> list[Record]:
    records: list[Record] = [[0.0, 0.0, 0.0, 0] for _ in reqs]
    next_index = iter(range(len(reqs)))

    async def worker() -> None:
        conn = Connection(host, port)
        for index in next_index:  # shared iterator: each worker takes the next request
            sent = time.monotonic() - t0
            status = await conn.send(reqs[index])
            records[index] = [sent, sent, time.monotonic() - t0, status]
        conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return records


async def open_loop(
    host: str, port: int, reqs: list[bytes], rate: float, pool: int, t0: float
) -> list[Record]:
    records: list[Record] = [[0.0, 0.0, 0.0, 0] for _ in reqs]
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(Connection(host, port))

    async def one(index: int, scheduled: float) -> None:
        conn = await idle.get()
        sent = time.monotonic() - t0
        status = await conn.send(reqs[index])
        records[index] = [scheduled, sent, time.monotonic() - t0, status]
        idle.put_nowait(conn)

    tasks = []
    for index in range(len(reqs)):
        scheduled = index / rate
        delay = t0 + scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return records


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    bodies = [line.encode() for line in Path(spec["bodies_file"]).read_text().splitlines() if line]
    reqs = requests_bytes(spec["url"], spec["secret"], bodies)
    parts = urlsplit(spec["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    wall_start, t0 = time.time(), time.monotonic()
    if spec["mode"] == "closed":
        records = await closed_loop(host, port, reqs, int(spec["concurrency"]), t0)
    else:
        records = await open_loop(host, port, reqs, float(spec["rate"]), int(spec["concurrency"]), t0)
    return {
        "wall_start": wall_start,
        "seconds": time.monotonic() - t0,
        "requests": records,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(run(spec))
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
