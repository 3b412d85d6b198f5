"""Admin API: end a connection (disconnect keeps the data) or delete the district's data."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.admin_audit import record_action
from gateway.admin_auth import admin_actor, principal, require_admin
from gateway.admin_districts import district_detail
from gateway.admin_scope import district_for, tenant_scope
from gateway.errors import not_found
from gateway.publishing import publish
from gateway.serializers import iso
from rostersync.runtime import Runtime
from services.lifecycle import disconnect_district
from storage.tables import deletion_receipts

log = structlog.get_logger(__name__)


async def request_deletion(rt: Runtime, district_id: str, actor: str) -> None:
    """Disconnect, record the request and queue the purge (the admin API and the integrations page)."""
    # Disconnect now, so nothing is synced while the purge waits in its queue.
    try:
        await run_in_threadpool(lambda: disconnect_district(rt, district_id, actor=actor))
    except LookupError:  # purged since the caller looked it up (an earlier request's purge ran)
        raise not_found("district") from None
    # Recorded before the purge is queued: the purge removes the district's audit rows.
    await run_in_threadpool(
        lambda: record_action(
            rt,
            district_id=district_id,
            actor=actor,
            action="district.deletion_requested",
            subject=district_id,
            details={},
        )
    )
    await publish(rt, "reconcile", "purge_district", {"district_id": district_id, "requested_by": actor})
    log.info("admin.deletion_requested", district_id=district_id)


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    @admin
    async def disconnect(request: Request) -> Response:
        district_id = request.path_params["district_id"]
        actor = admin_actor(request)

        def run() -> dict[str, Any]:
            district_detail(rt, district_id, principal(request))  # another tenant's: 404
            try:
                disconnect_district(rt, district_id, actor=actor)
            except LookupError:
                raise not_found("district") from None
            return district_detail(rt, district_id, principal(request))

        return JSONResponse(await run_in_threadpool(run))

    @admin
    async def deletion(request: Request) -> Response:
        district_id = request.path_params["district_id"]
        await run_in_threadpool(district_detail, rt, district_id, principal(request))  # unknown: 404
        await request_deletion(rt, district_id, admin_actor(request))
        return JSONResponse({"district_id": district_id, "status": "deletion queued"}, status_code=202)

    @admin
    async def receipts(request: Request) -> Response:
        district_id = request.path_params["district_id"]

        who = principal(request)

        def load() -> list[dict[str, Any]]:
            with rt.engine.connect() as conn:
                query = select(deletion_receipts).where(deletion_receipts.c.district_id == district_id)
                tenant = tenant_scope(who)
                if tenant is not None:  # the district's row may be gone: the receipt keeps its tenant
                    query = query.where(deletion_receipts.c.tenant_id == tenant)
                rows = conn.execute(query.order_by(deletion_receipts.c.completed_at)).all()
                if not rows:
                    district_for(who, conn, district_id)  # unknown or another tenant's: 404
            return [
                {
                    "district_id": r.district_id,
                    "requested_by": r.requested_by,
                    "counts": r.counts,
                    "completed_at": iso(r.completed_at),
                }
                for r in rows
            ]

        return JSONResponse({"receipts": await run_in_threadpool(load)})

    return [
        Route("/v1/districts/{district_id}/disconnect", disconnect, methods=["POST"]),
        Route("/v1/districts/{district_id}/deletion", deletion, methods=["POST"]),
        Route("/v1/districts/{district_id}/deletion-receipts", receipts, methods=["GET"]),
    ]
