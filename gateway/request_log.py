"""One log line per answered request: method, route, status, duration, and whatever the
handler put in `request.state.log_fields` (the webhook's accepted and dropped counts).

The route template is logged (`/connect/{nonce}`), never the query string: OAuth codes and
states travel there. Bodies and headers (tokens, signatures) are never logged.
"""

from __future__ import annotations

import time

import structlog
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("gateway.requests")

_QUIET = ("/healthz", "/readyz")  # probed every few seconds; their failures log on their own


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _QUIET:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            extra = (scope.get("state") or {}).get("log_fields")  # request.state lives in this dict
            log.info(
                "http.request",
                method=scope["method"],
                route=route.path if isinstance(route, Route) else "(unmatched)",
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **(extra or {}),
            )
