"""Admin API: the audit log, and the one helper handlers use to add to it.

Every action a person or operator takes is a row: who (`Principal.actor`: the `sub` and tenant
of an assertion, or an operator token's fingerprint), what (`action`, `subject`, `details`) and
when. District admins read their tenant's rows; operators read every row, or one district's.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import inputs
from gateway import query_models as q
from gateway.admin_auth import principal, require_admin
from gateway.admin_scope import check_district_filter, district_condition
from gateway.serializers import iso
from rostersync.runtime import Runtime
from storage import read_models
from storage.tables import audit_log


def record_action(
    rt: Runtime,
    *,
    district_id: str | None,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
) -> None:
    """An audit row in a transaction of its own, for actions a service already committed."""
    with rt.engine.begin() as conn:
        read_models.record_audit(
            conn, district_id=district_id, actor=actor, action=action, subject=subject, details=details
        )


def audit_json(row: Any) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "at": iso(row["at"]),
        "district_id": row["district_id"],
        "actor": row["actor"],
        "action": row["action"],
        "subject": row["subject"],
        "details": row["details"],
    }


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    @admin
    async def listing(request: Request) -> Response:
        who = principal(request)
        query = inputs.parse_query(q.AuditQuery, request.query_params)

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                check_district_filter(who, conn, query.district_id)
                rows, cursor = read_models.audit_page(
                    conn,
                    district_condition(who, audit_log.c.district_id),
                    district_id=query.district_id,
                    before=query.before,
                    limit=query.limit,
                )
            return {"audit": [audit_json(r) for r in rows], "next": str(cursor) if cursor else None}

        return JSONResponse(await run_in_threadpool(load))

    return [Route("/v1/audit", listing, methods=["GET"])]
