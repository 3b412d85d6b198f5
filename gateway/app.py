"""The gateway's Starlette app: OAuth connect, admin API, signed webhook, health checks.

Thin by design: it checks requests, reads and writes only its own rows (OAuth nonces, role
overrides, manual bell schedules, district options, audit), and publishes work to RabbitMQ with
confirms. It never calls Clever and never writes synced entity rows.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from gateway import (
    admin_districts,
    admin_lifecycle,
    admin_roster,
    admin_runs,
    admin_schedules,
    health,
    oauth_routes,
    webhook,
)
from gateway.errors import ApiError, api_error_handler, http_error_handler, unexpected_error_handler
from gateway.request_log import RequestLog
from rostersync.runtime import Runtime


def build_app(rt: Runtime) -> Starlette:
    routes = [
        *health.routes(rt),
        *oauth_routes.routes(rt),
        *webhook.routes(rt),
        *admin_districts.routes(rt),
        *admin_lifecycle.routes(rt),
        *admin_runs.routes(rt),
        *admin_roster.routes(rt),
        *admin_schedules.routes(rt),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestLog)],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.runtime = rt
    return app
