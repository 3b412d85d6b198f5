"""Raw gateway limit: a bare Starlette endpoint that verifies the Clever-Signature, publishes the
event with a confirm through the gateway's own asynchronous publisher (aio-pika, confirms
pipelined on one channel), and answers 202, served by uvicorn the way `rostersync gateway` is:
the floor under the product's webhook, with none of its checks.

`python -m bench.raw_gateway --port N --queue Q` (BENCH_BROKER_URL, BENCH_WEBHOOK_SECRET).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dramatiq
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.async_publisher import AsyncPublisher, BrokerUnavailable, declarations
from messaging.encoder import OrjsonEncoder
from messaging.queues import CLASSIC
from rostersync import collector


def verified(header: str | None, body: bytes, secret: str, tolerance: float = 300) -> bool:
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def build_app(publisher: AsyncPublisher, queue: str, secret: str) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verified(request.headers.get("clever-signature"), body, secret):
            return Response(status_code=401)
        message: dramatiq.Message = dramatiq.Message(
            queue_name=queue,
            actor_name="apply_event",
            args=(),
            kwargs={"event": json.loads(body), "source": "webhook"},
            options={},
        )
        try:
            await publisher.publish(message)
        except BrokerUnavailable:
            return Response(status_code=503)
        return JSONResponse({"accepted": 1}, status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await publisher.start()
        yield
        await publisher.close()

    return Starlette(
        routes=[Route("/webhooks/clever", receive, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.raw_gateway")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", required=True)
    args = parser.parse_args()
    dramatiq.set_encoder(OrjsonEncoder())  # the bodies the product publishes
    publisher = AsyncPublisher(os.environ["BENCH_BROKER_URL"], declarations(CLASSIC, [args.queue]))
    app = build_app(publisher, args.queue, os.environ["BENCH_WEBHOOK_SECRET"])
    collector.settle()  # as `rostersync gateway` does
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
