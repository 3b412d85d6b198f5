"""HTTP metrics of the gateway, and its `/metrics` endpoint (Prometheus text format).

Requests are labelled by route template (`/v1/districts/{district_id}`), never the raw path,
so the number of series stays bounded whatever ids clients send; an unmatched path is one
label. `/metrics` holds no personal data (no district ids); keep it off the public internet
at the proxy all the same, like `/readyz`.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rostersync.metrics import series
from rostersync.metrics.exposition import scrape_registry

UNMATCHED = "(unmatched)"


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) if route is not None else None
            method = scope["method"]
            label = template if isinstance(template, str) else UNMATCHED
            series.HTTP_REQUESTS.labels(method, label, str(status)).inc()
            series.HTTP_DURATION.labels(method, label).observe(time.perf_counter() - started)


def routes() -> list[BaseRoute]:
    registry = scrape_registry()

    async def metrics(request: Request) -> Response:
        # Collecting reads every series (and, in multiprocess mode, files): off the event loop.
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
