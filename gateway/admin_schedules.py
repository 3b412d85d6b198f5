"""Admin API: bell schedules per school. A manual schedule wins over the Clever-sourced one;
the sync only ever writes `source=clever`, so a manual schedule survives every sync."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.entities import BellPeriod, BellSchedule, ScheduleSource
from gateway import inputs
from gateway.admin_auth import principal, require_admin
from gateway.admin_scope import district_for
from gateway.errors import invalid, not_found
from gateway.identity import Principal
from gateway.inputs import read_json_object
from gateway.request_models import BellScheduleBody, Refusal, validate_body
from gateway.serializers import schedule_json
from rostersync.runtime import Runtime
from storage import read_models
from storage.manual_schedules import delete_manual_schedule
from storage.schedules import save_schedule

log = structlog.get_logger(__name__)


def parse_periods(body: dict[str, Any]) -> tuple[BellPeriod, ...]:
    """`{"periods": [{"label", "start", "end"}]}` → periods; raises a 422 ApiError."""
    try:
        schedule = validate_body(BellScheduleBody, body)
    except Refusal as exc:
        raise invalid(str(exc)) from None
    return tuple(BellPeriod(p.label, p.start, p.end) for p in schedule.periods)


def routes(rt: Runtime) -> list[Route]:
    admin = require_admin(rt.settings.admin_tokens)

    @admin
    async def listing(request: Request) -> Response:
        page = inputs.page_request(request)

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                district_for(principal(request), conn, page.district_id)
                schools, cursor = read_models.entity_page(
                    conn,
                    "schools",
                    page.district_id,
                    after=page.after,
                    limit=page.limit,
                    include_inactive=page.include_inactive,
                )
                ids = [s["clever_id"] for s in schools]
                stored = read_models.schedules_for_schools(conn, page.district_id, ids)
            items = []
            for school in schools:
                manual = stored.get((school["clever_id"], ScheduleSource.MANUAL.value))
                clever = stored.get((school["clever_id"], ScheduleSource.CLEVER.value))
                item = schedule_json(
                    school["clever_id"],
                    manual or clever,
                    has_manual=manual is not None,
                    has_clever=clever is not None,
                )
                items.append({**item, "school_name": school["name"]})
            return {"bell_schedules": items, "next": str(cursor) if cursor is not None else None}

        return JSONResponse(await run_in_threadpool(load))

    @admin
    async def put(request: Request) -> Response:
        periods = parse_periods(await read_json_object(request, rt.settings.webhook_max_body_bytes))
        district_id, school_id = request.path_params["district_id"], request.path_params["school_id"]
        schedule = BellSchedule(school_id, ScheduleSource.MANUAL, periods)
        who = principal(request)
        has_clever = await run_in_threadpool(save_manual_schedule, rt, who, district_id, schedule)
        log.info(
            "admin.bell_schedule_saved", district_id=district_id, school_id=school_id, **who.log_fields()
        )
        return JSONResponse(schedule_json(school_id, schedule, has_manual=True, has_clever=has_clever))

    @admin
    async def remove(request: Request) -> Response:
        district_id, school_id = request.path_params["district_id"], request.path_params["school_id"]
        who = principal(request)
        await run_in_threadpool(drop_manual_schedule, rt, who, district_id, school_id)
        log.info(
            "admin.bell_schedule_deleted", district_id=district_id, school_id=school_id, **who.log_fields()
        )
        return Response(status_code=204)

    path = "/v1/districts/{district_id}/schools/{school_id}/bell-schedule"
    return [
        Route("/v1/districts/{district_id}/bell-schedules", listing, methods=["GET"]),
        Route(path, put, methods=["PUT"]),
        Route(path, remove, methods=["DELETE"]),
    ]


def save_manual_schedule(rt: Runtime, who: Principal, district_id: str, schedule: BellSchedule) -> bool:
    """Save a manual schedule with its audit row; True when a Clever one exists (it stays, unused)."""
    school_id = schedule.school_clever_id
    with rt.engine.begin() as conn:
        _require_school(who, conn, district_id, school_id)
        save_schedule(conn, district_id, schedule)
        read_models.record_audit(
            conn,
            district_id=district_id,
            actor=who.actor,
            action="bell_schedule.manual_saved",
            subject=school_id,
            details={"periods": len(schedule.periods)},
        )
        stored = read_models.schedules_for_schools(conn, district_id, [school_id])
    return (school_id, ScheduleSource.CLEVER.value) in stored


def drop_manual_schedule(rt: Runtime, who: Principal, district_id: str, school_id: str) -> None:
    """Remove a school's manual schedule (the Clever one, if any, is in force again); 404 if none."""
    with rt.engine.begin() as conn:
        _require_school(who, conn, district_id, school_id)
        if not delete_manual_schedule(conn, district_id, school_id):
            raise not_found("manual bell schedule")
        read_models.record_audit(
            conn,
            district_id=district_id,
            actor=who.actor,
            action="bell_schedule.manual_deleted",
            subject=school_id,
            details={},
        )


def _require_school(who: Principal, conn: Any, district_id: str, school_id: str) -> None:
    district_for(who, conn, district_id)
    if not read_models.school_exists(conn, district_id, school_id):
        raise not_found("school")
