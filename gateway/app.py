"""The gateway's Starlette app: OAuth connect, admin API, signed webhook, health checks.

Thin by design: it checks requests, reads and writes only its own rows (OAuth nonces, role
overrides, manual bell schedules, district options, audit), and publishes work to RabbitMQ with
confirms. It never calls Clever and never writes synced entity rows.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from gateway import (
    admin_audit,
    admin_districts,
    admin_failed,
    admin_lifecycle,
    admin_roster,
    admin_runs,
    admin_schedules,
    health,
    integrations_actions,
    integrations_page,
    metrics,
    oauth_routes,
    openapi,
    ops_console,
    page_render,
    publishing,
    sessions,
    webhook,
)
from gateway.errors import (
    ApiError,
    api_error_handler,
    database_error_handler,
    http_error_handler,
    unexpected_error_handler,
)
from gateway.observed_requests import ObservedRequests
from gateway.path_params import GuardedEndpoint
from gateway.request_log import log_request
from rostersync.runtime import Runtime


def build_app(rt: Runtime) -> Starlette:
    routes = [
        # The router tries routes in order: the busiest first, so a webhook is matched at once.
        *webhook.routes(rt),
        *health.routes(rt),
        *oauth_routes.routes(rt),
        *sessions.routes(rt),
        *admin_districts.routes(rt),
        *admin_audit.routes(rt),
        *admin_lifecycle.routes(rt),
        *admin_runs.routes(rt),
        *admin_failed.routes(rt),
        *admin_roster.routes(rt),
        *admin_schedules.routes(rt),
        *integrations_page.routes(rt),
        *integrations_actions.routes(rt),
        *ops_console.routes(rt),
        *openapi.routes(),
        *page_render.static_routes(),
        *metrics.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=publishing.lifespan(rt),  # the asynchronous publisher, with RabbitMQ
        middleware=[Middleware(ObservedRequests, observers=[metrics.record_request, log_request])],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            DBAPIError: database_error_handler,
            DisconnectionError: database_error_handler,
            PoolTimeout: database_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    # Every route's path parameters, query and headers are checked in one place (path_params).
    for route in app.router.routes:
        if isinstance(route, Route):
            route.app = GuardedEndpoint(route.app)
    # A trailing-slash redirect would be built from the request's Host header: answer 404 instead.
    app.router.redirect_slashes = False
    app.state.runtime = rt
    return app
