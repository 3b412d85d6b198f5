"""Admin API: districts (list, detail, options), their runs, and starting a sync."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import inputs
from gateway import query_models as q
from gateway.admin_audit import record_action
from gateway.admin_auth import admin_actor, principal, require_admin, require_operator
from gateway.admin_scope import district_for, reachable_districts
from gateway.district_options import merged_options
from gateway.errors import ApiError, invalid
from gateway.identity import Principal
from gateway.inputs import read_json_object, read_optional_json_object
from gateway.request_models import DistrictPatch, Refusal, SyncRequest, validate_body
from gateway.serializers import district_json, run_json
from rostersync.runtime import Runtime
from services.sync_requests import RunHeld, SyncRefused, request_sync
from storage import connections, read_models, runs

log = structlog.get_logger(__name__)


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)
    body_limit = rt.settings.webhook_max_body_bytes

    @admin
    async def list_all(request: Request) -> Response:
        return JSONResponse({"districts": await run_in_threadpool(_list_districts, rt, principal(request))})

    @admin
    async def detail(request: Request) -> Response:
        district_id = request.path_params["district_id"]
        return JSONResponse(await run_in_threadpool(district_detail, rt, district_id, principal(request)))

    @admin
    async def patch(request: Request) -> Response:
        body = await read_json_object(request, body_limit)
        try:
            changes = validate_body(DistrictPatch, body).changes()
        except Refusal as exc:
            raise invalid(str(exc)) from None
        district_id = request.path_params["district_id"]

        def save() -> dict[str, Any]:
            with rt.engine.begin() as conn:
                district = district_for(principal(request), conn, district_id, for_update=True)
                if "lane" in changes.options:
                    require_operator(request)  # lanes are worker pools: operators' business
                values: dict[str, Any] = {"options": merged_options(district["options"], changes)}
                if changes.timezone is not None:
                    values["timezone"] = changes.timezone
                connections.update_district(conn, district_id, **values)
                read_models.record_audit(
                    conn,
                    district_id=district_id,
                    actor=admin_actor(request),
                    action="district.updated",
                    subject=district_id,
                    details={"changed": sorted(body)},
                )
            return district_detail(rt, district_id, principal(request))

        result = await run_in_threadpool(save)
        log.info("admin.district_updated", district_id=district_id, changed=sorted(body))
        return JSONResponse(result)

    @admin
    async def list_runs(request: Request) -> Response:
        query = inputs.parse_query(q.RunsQuery, request.query_params)
        limit, offset = query.limit, query.offset
        district_id = request.path_params["district_id"]

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                district_for(principal(request), conn, district_id)
                rows = runs.list_runs(conn, district_id, limit=limit, offset=offset)
                total = read_models.count_runs(conn, district_id)
            return {"runs": [run_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}

        return JSONResponse(await run_in_threadpool(load))

    @admin
    async def sync(request: Request) -> Response:
        try:
            kind = validate_body(SyncRequest, await read_optional_json_object(request, body_limit)).kind
        except Refusal as exc:
            raise invalid(str(exc)) from None
        district_id = request.path_params["district_id"]
        await run_in_threadpool(district_detail, rt, district_id, principal(request))  # 404 first
        try:
            ticket = await run_in_threadpool(
                lambda: request_sync(rt, district_id, kind=kind, requested_by=admin_actor(request))
            )
        except RunHeld as exc:
            # The held run stays held; the caller learns which one waits for a decision, and why.
            return JSONResponse({"error": str(exc), "run_id": exc.run_id}, status_code=409)
        except SyncRefused as exc:
            raise ApiError(409, str(exc)) from None
        # No broker error reaches here: the run's first message is in the outbox with the run, and
        # a broker that cannot take it now leaves it to the scheduler's relay (still 202).
        await run_in_threadpool(
            record_action,
            rt,
            district_id=district_id,
            actor=admin_actor(request),
            action="sync.requested",
            subject=ticket.run_id,
            details={"kind": kind, "created": ticket.created},
        )
        log.info(
            "admin.sync_requested", district_id=district_id, run_id=ticket.run_id, created=ticket.created
        )
        return JSONResponse({"run_id": ticket.run_id, "created": ticket.created}, status_code=202)

    return [
        Route("/v1/districts", list_all, methods=["GET"]),
        Route("/v1/districts/{district_id}", detail, methods=["GET"]),
        Route("/v1/districts/{district_id}", patch, methods=["PATCH"]),
        Route("/v1/districts/{district_id}/runs", list_runs, methods=["GET"]),
        Route("/v1/districts/{district_id}/sync", sync, methods=["POST"]),
    ]


def _list_districts(rt: Runtime, who: Principal) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        return [district_json(d, runs.latest_run(conn, d["id"])) for d in reachable_districts(who, conn)]


def district_detail(rt: Runtime, district_id: str, who: Principal) -> dict[str, Any]:
    """The district as the API shows it; 404 when `who` may not reach it."""
    with rt.engine.connect() as conn:
        district = district_for(who, conn, district_id)
        return district_json(district, runs.latest_run(conn, district_id))
