"""Admin API: a district's synced rows (keyset pages) and manual role overrides on staff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.entities import Role
from gateway import inputs
from gateway.admin_auth import principal, require_admin
from gateway.admin_scope import district_condition, district_for
from gateway.errors import ApiError, invalid, not_found
from gateway.identity import Principal
from gateway.inputs import read_json_object
from gateway.request_models import Refusal, RoleOverride, validate_body
from gateway.serializers import Record, classroom_json, school_json, staff_json, term_json
from rostersync.runtime import Runtime
from storage import read_models
from storage.tables import staff_users

log = structlog.get_logger(__name__)

SERIALIZERS: dict[str, Callable[[Record], dict[str, Any]]] = {
    "staff": staff_json,
    "schools": school_json,
    "classrooms": classroom_json,
    "terms": term_json,
}


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    def listing(name: str) -> Callable[[Request], Any]:
        @admin
        async def endpoint(request: Request) -> Response:
            page = inputs.page_request(request)

            def load() -> dict[str, Any]:
                with rt.engine.connect() as conn:
                    district_for(principal(request), conn, page.district_id)
                    rows, cursor = read_models.entity_page(
                        conn,
                        name,
                        page.district_id,
                        after=page.after,
                        limit=page.limit,
                        include_inactive=page.include_inactive,
                    )
                items = [SERIALIZERS[name](row) for row in rows]
                return {name: items, "next": str(cursor) if cursor is not None else None}

            return JSONResponse(await run_in_threadpool(load))

        return endpoint

    @admin
    async def override_role(request: Request) -> Response:
        body = await read_json_object(request, rt.settings.webhook_max_body_bytes)
        try:
            role = validate_body(RoleOverride, body).role
        except Refusal as exc:
            raise invalid(str(exc)) from None
        clever_id = request.path_params["clever_id"]
        district_id = request.query_params.get("district_id") or None
        who = principal(request)
        result = await run_in_threadpool(set_role_override, rt, clever_id, district_id, role, who)
        log.info(
            "admin.role_override",
            district_id=result["district_id"],
            staff_id=clever_id,
            role=role.value if role else None,
            **who.log_fields(),
        )
        return JSONResponse(result["staff"])

    return [
        Route("/v1/districts/{district_id}/staff", listing("staff"), methods=["GET"]),
        Route("/v1/districts/{district_id}/schools", listing("schools"), methods=["GET"]),
        Route("/v1/districts/{district_id}/classrooms", listing("classrooms"), methods=["GET"]),
        Route("/v1/districts/{district_id}/terms", listing("terms"), methods=["GET"]),
        Route("/v1/staff/{clever_id}", override_role, methods=["PATCH"]),
    ]


def set_role_override(
    rt: Runtime, clever_id: str, district_id: str | None, role: Role | None, who: Principal
) -> dict[str, Any]:
    """Write only the override columns and an audit row, in one transaction."""
    actor = who.actor
    with rt.engine.begin() as conn:
        # Only staff of districts this principal reaches: another tenant's is not found.
        scope = district_condition(who, staff_users.c.district_id)
        rows = read_models.staff_by_clever_id(conn, clever_id, district_id, scope=scope)
        if not rows:
            raise not_found("staff member")
        if len(rows) > 1:
            raise ApiError(409, "this staff id exists in several districts; pass ?district_id=")
        row = rows[0]
        now = datetime.now(UTC) if role is not None else None
        read_models.set_role_override(
            conn,
            int(row["id"]),
            role.value if role else None,
            set_by=actor if role is not None else None,
            set_at=now,
        )
        read_models.record_audit(
            conn,
            district_id=row["district_id"],
            actor=actor,
            action="staff.role_override_set" if role is not None else "staff.role_override_cleared",
            subject=clever_id,
            details={"from": row["override_role"], "to": role.value if role else None},
        )
        updated = read_models.staff_by_row_id(conn, int(row["id"]))
    assert updated is not None
    return {"district_id": row["district_id"], "staff": staff_json(updated)}
