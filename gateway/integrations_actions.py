"""The integrations page's form posts. Each checks the CSRF token and the tenant, calls the same
service the admin API calls, and redirects back (post/redirect/get), so every action works with
JavaScript off and a reload never repeats it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain.entities import BellPeriod, BellSchedule, Role, ScheduleSource
from gateway.admin_audit import record_action
from gateway.admin_lifecycle import request_deletion
from gateway.admin_roster import set_role_override
from gateway.admin_schedules import drop_manual_schedule, parse_periods, save_manual_schedule
from gateway.admin_scope import run_for
from gateway.errors import ApiError, unavailable
from gateway.integrations_page import BASE, tenant_connection
from gateway.page_forms import checked_form, page_handler
from gateway.publishing import PUBLISH_ERRORS
from gateway.sessions import BrowserSession
from rostersync.runtime import Runtime
from services.finish_run import resolve_held_run
from services.lifecycle import disconnect_district
from services.sync_requests import SyncRefused, request_sync

ROLE = "district_admin"


def back(path: str = BASE, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}" if done else path, status_code=303)


def _district_id(rt: Runtime, session: BrowserSession) -> str:
    with rt.engine.connect() as conn:
        return str(tenant_connection(conn, session)["id"])


def parse_period_lines(text: str) -> tuple[BellPeriod, ...]:
    """The editor's lines, `label, HH:MM, HH:MM` each, checked as the admin API checks a body."""
    periods = []
    for number, line in enumerate((raw.strip() for raw in text.splitlines()), start=1):
        if not line:
            continue
        parts = [part.strip() for part in line.rsplit(",", 2)]
        if len(parts) != 3:
            raise ApiError(
                422, f"line {number} must read: label, start, end (for example: Period 1, 08:00, 08:50)"
            )
        periods.append({"label": parts[0], "start": parts[1], "end": parts[2]})
    return parse_periods({"periods": periods})


def routes(rt: Runtime) -> list[Route]:
    @page_handler
    async def sync_now(request: Request) -> Response:
        session, _ = await checked_form(request, ROLE)
        district_id = await run_in_threadpool(_district_id, rt, session)
        actor = session.principal.actor
        try:
            ticket = await run_in_threadpool(
                lambda: request_sync(rt, district_id, kind="full", requested_by=actor)
            )
        except SyncRefused as exc:
            raise ApiError(409, f"a sync cannot start: {exc}") from None
        except PUBLISH_ERRORS:
            raise unavailable("the message broker is unavailable") from None
        await run_in_threadpool(
            lambda: record_action(
                rt,
                district_id=district_id,
                actor=actor,
                action="sync.requested",
                subject=ticket.run_id,
                details={"kind": "full", "created": ticket.created},
            )
        )
        # A sync already running is shown instead of starting another.
        return back(done="sync-started" if ticket.created else "sync-running")

    @page_handler
    async def disconnect(request: Request) -> Response:
        session, _ = await checked_form(request, ROLE)
        district_id = await run_in_threadpool(_district_id, rt, session)
        try:
            await run_in_threadpool(
                lambda: disconnect_district(rt, district_id, actor=session.principal.actor)
            )
        except LookupError:  # purged since the page looked it up
            raise ApiError(404, "your district has no Clever connection any more") from None
        return back(done="disconnected")

    @page_handler
    async def delete(request: Request) -> Response:
        session, fields = await checked_form(request, ROLE)

        def district_name() -> tuple[str, str]:
            with rt.engine.connect() as conn:
                district = tenant_connection(conn, session)
                return str(district["id"]), str(district["name"] or district["id"])

        district_id, name = await run_in_threadpool(district_name)
        if fields.get("confirm_name", "").strip() != name:
            raise ApiError(422, f'to delete, type the district\'s name exactly as shown: "{name}"')
        try:
            await request_deletion(rt, district_id, session.principal.actor)
        except ApiError as exc:  # the broker could not take the purge: say so, it can be retried
            raise unavailable(f"the deletion could not be queued ({exc.reason})") from None
        return back(done="deletion-queued")

    async def resolve(request: Request, *, approve: bool) -> Response:
        session, _ = await checked_form(request, ROLE)
        run_id = request.path_params["run_id"]

        def decide() -> str:
            with rt.engine.connect() as conn:
                run_for(session.principal, conn, run_id)  # another tenant's run: 404
            try:
                return resolve_held_run(rt, run_id, approve=approve, actor=session.principal.actor)
            except LookupError:
                raise ApiError(404, "run not found") from None
            except ValueError as exc:
                raise ApiError(409, f"this run was already decided ({exc})") from None

        status = await run_in_threadpool(decide)
        return back(done=f"run-{status}")

    @page_handler
    async def approve(request: Request) -> Response:
        return await resolve(request, approve=True)

    @page_handler
    async def discard(request: Request) -> Response:
        return await resolve(request, approve=False)

    @page_handler
    async def override(request: Request) -> Response:
        session, fields = await checked_form(request, ROLE)
        raw = fields.get("role", "")
        if raw not in {r.value for r in Role} and raw != "":
            raise ApiError(422, "pick one of the listed roles, or the synced role to clear the override")
        role = Role(raw) if raw else None
        clever_id = request.path_params["clever_id"]
        district_id = await run_in_threadpool(_district_id, rt, session)
        await run_in_threadpool(set_role_override, rt, clever_id, district_id, role, session.principal)
        return back(f"{BASE}/staff", done="role-saved" if role else "override-cleared")

    @page_handler
    async def save_schedule(request: Request) -> Response:
        session, fields = await checked_form(request, ROLE)
        school_id = request.path_params["school_id"]
        periods = parse_period_lines(fields.get("periods", ""))
        district_id = await run_in_threadpool(_district_id, rt, session)
        schedule = BellSchedule(school_id, ScheduleSource.MANUAL, periods)
        await run_in_threadpool(save_manual_schedule, rt, session.principal, district_id, schedule)
        return back(f"{BASE}/bell-schedules", done="schedule-saved")

    @page_handler
    async def clear_schedule(request: Request) -> Response:
        session, _ = await checked_form(request, ROLE)
        school_id = request.path_params["school_id"]
        district_id = await run_in_threadpool(_district_id, rt, session)
        await run_in_threadpool(drop_manual_schedule, rt, session.principal, district_id, school_id)
        return back(f"{BASE}/bell-schedules", done="schedule-cleared")

    return [
        Route(f"{BASE}/sync", sync_now, methods=["POST"]),
        Route(f"{BASE}/disconnect", disconnect, methods=["POST"]),
        Route(f"{BASE}/delete", delete, methods=["POST"]),
        Route(f"{BASE}/runs/{{run_id}}/approve", approve, methods=["POST"]),
        Route(f"{BASE}/runs/{{run_id}}/discard", discard, methods=["POST"]),
        Route(f"{BASE}/staff/{{clever_id}}/role", override, methods=["POST"]),
        Route(f"{BASE}/bell-schedules/{{school_id}}", save_schedule, methods=["POST"]),
        Route(f"{BASE}/bell-schedules/{{school_id}}/clear", clear_schedule, methods=["POST"]),
    ]
