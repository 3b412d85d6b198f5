"""Admin API: one sync run, and the decision on a run held by the deletion guard."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin_auth import admin_actor, principal, require_admin
from gateway.admin_scope import run_for
from gateway.errors import ApiError, not_found
from gateway.identity import Principal
from gateway.serializers import run_json
from rostersync.runtime import Runtime
from services.finish_run import resolve_held_run

log = structlog.get_logger(__name__)


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    @admin
    async def detail(request: Request) -> Response:
        return JSONResponse(
            await run_in_threadpool(_run, rt, request.path_params["run_id"], principal(request))
        )

    async def resolve(request: Request, *, approve: bool) -> Response:
        run_id = request.path_params["run_id"]
        actor = admin_actor(request)
        await run_in_threadpool(_run, rt, run_id, principal(request))  # another tenant's run: 404
        try:
            status = await run_in_threadpool(
                lambda: resolve_held_run(rt, run_id, approve=approve, actor=actor)
            )
        except LookupError:
            raise not_found("run") from None
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        log.info("admin.held_run_resolved", run_id=run_id, status=status, **principal(request).log_fields())
        return JSONResponse(await run_in_threadpool(_run, rt, run_id, principal(request)))

    @admin
    async def approve(request: Request) -> Response:
        return await resolve(request, approve=True)

    @admin
    async def discard(request: Request) -> Response:
        return await resolve(request, approve=False)

    return [
        Route("/v1/runs/{run_id}", detail, methods=["GET"]),
        Route("/v1/runs/{run_id}/approve", approve, methods=["POST"]),
        Route("/v1/runs/{run_id}/discard", discard, methods=["POST"]),
    ]


def _run(rt: Runtime, run_id: str, who: Principal) -> dict[str, Any]:
    with rt.engine.connect() as conn:
        return run_json(run_for(who, conn, run_id))
