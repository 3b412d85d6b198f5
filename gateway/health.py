"""Liveness (the process answers) and readiness (the database answers `SELECT 1`)."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import RETRY_AFTER_SECONDS
from rostersync.runtime import Runtime
from storage.read_models import ping

log = structlog.get_logger(__name__)


def routes(rt: Runtime) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def database_ok() -> bool:
        try:
            with rt.engine.connect() as conn:
                ping(conn)
        except SQLAlchemyError as exc:
            log.warning("gateway.not_ready", error_type=type(exc).__name__)
            return False
        return True

    async def readyz(request: Request) -> Response:
        if await run_in_threadpool(database_ok):
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"error": "database unreachable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
