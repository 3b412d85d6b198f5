"""Admin API: messages that gave up (failed_messages), to list, replay or drop.

A district admin reaches only the failed messages of their tenant's districts (the scope is a
WHERE clause on the row's district); an operator reaches all of them, including those that
name no district (a connect message).
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import inputs
from gateway import query_models as q
from gateway.admin_auth import admin_actor, principal, require_admin
from gateway.admin_scope import check_district_filter, district_condition
from gateway.errors import ApiError, invalid, not_found, unavailable
from gateway.json_limits import ascii_integer
from gateway.publishing import PUBLISH_ERRORS
from gateway.serializers import iso
from rostersync.runtime import Runtime
from services import failed_messages as service
from storage import failed_messages
from storage.tables import failed_messages as table

log = structlog.get_logger(__name__)


def failed_json(row: Any) -> dict[str, Any]:
    """A row without the message itself (it may hold a page of staff records)."""
    return {
        "id": int(row["id"]),
        "queue": row["queue"],
        "actor": row["actor"],
        "district_id": row["district_id"],
        "idempotency_key": row["idempotency_key"],
        "cause": row["cause"],
        "attempts": row["attempts"],
        "first_failed_at": iso(row["first_failed_at"]),
        "last_failed_at": iso(row["last_failed_at"]),
        "status": row["status"],
        "resolved_by": row["resolved_by"],
        "resolved_at": iso(row["resolved_at"]),
    }


def _failed_id(request: Request) -> int:
    value = ascii_integer(request.path_params["failed_id"], max_digits=18)
    if value is None:
        raise invalid("a failed message id is a positive integer")
    return value


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    @admin
    async def listing(request: Request) -> Response:
        who = principal(request)
        query = inputs.parse_query(q.FailedQuery, request.query_params)
        status = query.status or failed_messages.WAITING

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                check_district_filter(who, conn, query.district_id)
                rows, cursor = failed_messages.page(
                    conn,
                    district_id=query.district_id,
                    scope=district_condition(who, table.c.district_id),
                    status=None if status == "all" else status,
                    after=query.after,
                    limit=query.limit,
                )
            return {
                "failed_messages": [failed_json(row) for row in rows],
                "next": str(cursor) if cursor is not None else None,
            }

        return JSONResponse(await run_in_threadpool(load))

    @admin
    async def detail(request: Request) -> Response:
        failed_id = _failed_id(request)
        scope = district_condition(principal(request), table.c.district_id)

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                row = failed_messages.get(conn, failed_id, scope=scope)
            if row is None:
                raise not_found("failed message")
            return failed_json(row)

        return JSONResponse(await run_in_threadpool(load))

    async def resolve(request: Request, *, replay: bool) -> Response:
        failed_id = _failed_id(request)
        scope = district_condition(principal(request), table.c.district_id)
        actor = admin_actor(request)
        action = service.replay if replay else service.drop
        try:
            row = await run_in_threadpool(lambda: action(rt, failed_id, by=actor, scope=scope))
        except LookupError:
            raise not_found("failed message") from None
        except service.NotWaiting as exc:
            raise ApiError(409, str(exc)) from None
        except PUBLISH_ERRORS as exc:
            log.warning("admin.replay_publish_failed", failed_message_id=failed_id, error=type(exc).__name__)
            raise unavailable("message broker unavailable; retry later") from None
        return JSONResponse(failed_json(row))

    @admin
    async def replay(request: Request) -> Response:
        return await resolve(request, replay=True)

    @admin
    async def drop(request: Request) -> Response:
        return await resolve(request, replay=False)

    return [
        Route("/v1/failed-messages", listing, methods=["GET"]),
        Route("/v1/failed-messages/{failed_id}", detail, methods=["GET"]),
        Route("/v1/failed-messages/{failed_id}", drop, methods=["DELETE"]),
        Route("/v1/failed-messages/{failed_id}/replay", replay, methods=["POST"]),
        Route("/v1/failed-messages/{failed_id}/drop", drop, methods=["POST"]),
    ]
