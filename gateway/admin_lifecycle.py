"""Admin API: end a connection (disconnect keeps the data) or delete the district's data."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin_auth import admin_actor, require_admin
from gateway.admin_districts import district_detail
from gateway.errors import not_found
from gateway.publishing import publish
from rostersync.runtime import Runtime
from services.lifecycle import disconnect_district
from storage import connections
from storage.tables import deletion_receipts

log = structlog.get_logger(__name__)


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    @admin
    async def disconnect(request: Request) -> Response:
        district_id = request.path_params["district_id"]
        actor = admin_actor(request)

        def run() -> dict[str, Any]:
            try:
                disconnect_district(rt, district_id, actor=actor)
            except LookupError:
                raise not_found("district") from None
            return district_detail(rt, district_id)

        return JSONResponse(await run_in_threadpool(run))

    @admin
    async def deletion(request: Request) -> Response:
        district_id = request.path_params["district_id"]
        await run_in_threadpool(district_detail, rt, district_id)  # 404 for an unknown district
        # Disconnect now, so nothing is synced while the purge waits in its queue.
        await run_in_threadpool(lambda: disconnect_district(rt, district_id, actor=admin_actor(request)))
        await publish(
            rt,
            "reconcile",
            "purge_district",
            {"district_id": district_id, "requested_by": admin_actor(request)},
        )
        log.info("admin.deletion_requested", district_id=district_id)
        return JSONResponse({"district_id": district_id, "status": "deletion queued"}, status_code=202)

    @admin
    async def receipts(request: Request) -> Response:
        district_id = request.path_params["district_id"]

        def load() -> list[dict[str, Any]]:
            with rt.engine.connect() as conn:
                rows = conn.execute(
                    select(deletion_receipts)
                    .where(deletion_receipts.c.district_id == district_id)
                    .order_by(deletion_receipts.c.completed_at)
                ).all()
                if not rows and connections.get_district(conn, district_id) is None:
                    raise not_found("district")
            return [
                {
                    "district_id": r.district_id,
                    "requested_by": r.requested_by,
                    "counts": r.counts,
                    "completed_at": r.completed_at.isoformat(),
                }
                for r in rows
            ]

        return JSONResponse({"receipts": await run_in_threadpool(load)})

    return [
        Route("/v1/districts/{district_id}/disconnect", disconnect, methods=["POST"]),
        Route("/v1/districts/{district_id}/deletion", deletion, methods=["POST"]),
        Route("/v1/districts/{district_id}/deletion-receipts", receipts, methods=["GET"]),
    ]
