"""One log line per answered request: method, route, status, duration, and whatever the
handler put in `request.state.log_fields` (the webhook's accepted and dropped counts).

The route template is logged (`/connect/{nonce}`), never the query string: OAuth codes and
states travel there. Bodies and headers (tokens, signatures) are never logged.
"""

from __future__ import annotations

import structlog
from starlette.types import Scope

from gateway.observed_requests import route_template

log = structlog.get_logger("gateway.requests")

_QUIET = ("/healthz", "/readyz")  # probed every few seconds; their failures log on their own


def log_request(scope: Scope, status: int, seconds: float) -> None:
    if scope["path"] in _QUIET:
        return
    extra = (scope.get("state") or {}).get("log_fields")  # request.state lives in this dict
    log.info(
        "http.request",
        method=scope["method"],
        route=route_template(scope),
        status=status,
        duration_ms=round(seconds * 1000, 1),
        **(extra or {}),
    )
