"""Every gateway error is JSON `{"error": "<reason>"}`, except the OAuth pages (HTML)."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = structlog.get_logger(__name__)

# How long a sender should wait before retrying when the broker or database is unavailable.
RETRY_AFTER_SECONDS = 30


class ApiError(Exception):
    """Raised by handlers; rendered as a JSON error with the given status."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def unavailable(reason: str) -> ApiError:
    return ApiError(503, reason, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def invalid(reason: str) -> ApiError:
    return ApiError(422, reason)


def error_response(status: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=dict(headers or {}))


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.reason, exc.headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Routing's own 404/405 as JSON, like every other error."""
    assert isinstance(exc, HTTPException)
    reason = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, reason, exc.headers)


def is_database_unavailable(exc: BaseException) -> bool:
    """A database that is down, restarting, unreachable or out of connections, as opposed to a
    query that is wrong: waiting helps the first, never the second."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def database_error_handler(request: Request, exc: Exception) -> Response:
    """503 + Retry-After while the database is away; other database errors stay 500s."""
    if not is_database_unavailable(exc):
        return await unexpected_error_handler(request, exc)
    log.warning("gateway.database_unavailable", path=request.url.path, error_type=type(exc).__name__)
    return error_response(503, "database unavailable; retry later", {"Retry-After": str(RETRY_AFTER_SECONDS)})


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("gateway.unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return error_response(500, "internal error")
