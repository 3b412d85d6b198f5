"""HTTP metrics of the gateway, and its `/metrics` endpoint (Prometheus text format).

Requests are labelled by route template (`/v1/districts/{district_id}`), never the raw path,
so the number of series stays bounded whatever ids clients send; an unmatched path is one
label. `/metrics` holds no personal data (no district ids); keep it off the public internet
at the proxy all the same, like `/readyz`.
"""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from gateway.observed_requests import route_template
from rostersync.metrics import series
from rostersync.metrics.exposition import scrape_registry


def record_request(scope: Scope, status: int, seconds: float) -> None:
    counter, histogram = _children(scope["method"], route_template(scope), status)
    counter.inc()
    histogram.observe(seconds)


@functools.cache
def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    # `labels()` takes a lock and builds a key on every call; a request needs the same two
    # series as the last one like it. Bounded like the series: route templates, not paths.
    return (
        series.HTTP_REQUESTS.labels(method, route, str(status)),
        series.HTTP_DURATION.labels(method, route),
    )


def routes() -> list[BaseRoute]:
    registry = scrape_registry()

    async def metrics(request: Request) -> Response:
        # Collecting reads every series (and, in multiprocess mode, files): off the event loop.
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
