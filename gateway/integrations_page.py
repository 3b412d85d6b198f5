"""Settings → Integrations → Clever, for the signed-in district admin's tenant: the connection's
state, the last sync, actions, and the synced data on sub-pages. Handlers are thin: they read
through integrations_view and the storage read models the admin API uses; actions live in
integrations_actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clever_client.oauth import SCOPES as CLEVER_SCOPES
from domain.entities import Role, ScheduleSource
from gateway import inputs
from gateway import integrations_view as view
from gateway.errors import ApiError
from gateway.page_forms import page_handler
from gateway.page_render import render, signed_in
from gateway.serializers import classroom_json, run_json, school_json, staff_json, term_json
from gateway.sessions import BrowserSession
from rostersync.runtime import Runtime
from storage import read_models, runs
from storage.tables import audit_log

BASE = "/integrations/clever"
PAGE_SIZE = 50
# What a connection asks Clever for, and what it never asks for (shown before connecting).
SYNCED = ("staff accounts and their roles", "schools", "classrooms (sections)", "terms", "bell schedules")
NEVER = ("students", "contacts (parents and guardians)", "any student data in sections")
RECORDS = {
    "schools": (
        "Schools",
        school_json,
        ("name", "school_number", "low_grade", "high_grade", "principal_name"),
    ),
    "classrooms": ("Classrooms", classroom_json, ("name", "subject", "grade", "period", "school_id")),
    "terms": ("Terms", term_json, ("name", "start_date", "end_date")),
}


def tenant_connection(conn: Connection, session: BrowserSession) -> RowMapping:
    """The signed-in tenant's connection; a 404 page when the tenant has none yet."""
    district = view.tenant_district(conn, session.principal.tenant)
    if district is None:
        raise ApiError(404, "your district has no Clever connection yet")
    return district


def tenant_rows(
    conn: Connection, session: BrowserSession, name: str, after: int | None
) -> tuple[RowMapping, list[Any], int | None]:
    """The session's connection and one page of its active rows of `name` (staff, schools, ...)."""
    district = tenant_connection(conn, session)
    rows, cursor = read_models.entity_page(
        conn, name, district["id"], after=after, limit=PAGE_SIZE, include_inactive=False
    )
    return district, rows, cursor


def overview(rt: Runtime, session: BrowserSession) -> dict[str, Any]:
    tenant = session.principal.tenant
    assert tenant is not None  # a district admin's session always names a tenant
    with rt.engine.connect() as conn:
        district = view.tenant_district(conn, tenant)
        context: dict[str, Any] = {
            "district": district,
            "receipts": view.receipts(conn, tenant),
            "synced": SYNCED,
            "never": NEVER,
            "scopes": CLEVER_SCOPES,
        }
        if district is None:
            return {**context, "state": "not_connected", "state_words": view.STATES["not_connected"]}
        active = runs.active_run(conn, district["id"])
        last = view.last_finished_run(conn, district["id"])
        state = view.state_key(district, active)
        return {
            **context,
            "state": state,
            "state_words": view.STATES[state],
            "zone": district["timezone"],
            "active": view.progress(conn, active) if active is not None else None,
            "last": view.progress(conn, last) if last is not None else None,
            "next_reconcile": view.next_reconcile(district, rt.settings.reconcile_local_time),
            "last_event_at": view.last_event_at(district),
            "held": view.held_runs(conn, district["id"]),
            "resource_names": view.RESOURCE_NAMES,
            "outcomes": view.OUTCOMES,
        }


def status_json(rt: Runtime, session: BrowserSession) -> dict[str, Any]:
    """The page's live part, for its script: the state and the running sync's counters."""
    context = overview(rt, session)
    active: view.Progress | None = context.get("active")
    return {
        "state": context["state"],
        "state_words": context["state_words"],
        "run": None
        if active is None
        else {
            "status": active.run["status"],
            "pages_applied": active.pages_applied,
            "pages_published": active.pages_published,
            "crawling": active.crawling,
            "counters": active.counters,
        },
    }


def routes(rt: Runtime) -> list[Route]:
    @page_handler
    async def main(request: Request) -> Response:
        session = signed_in(request, "district_admin")
        context = await run_in_threadpool(overview, rt, session)
        return render(request, "integrations.html", context)

    async def status(request: Request) -> Response:
        try:
            session = signed_in(request, "district_admin")
        except ApiError as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        body = await run_in_threadpool(status_json, rt, session)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @page_handler
    async def staff(request: Request) -> Response:
        session = signed_in(request, "district_admin")
        after = inputs.query_after(request.query_params)

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                district, rows, cursor = tenant_rows(conn, session, "staff", after)
                return {
                    "district": district,
                    "staff": [staff_json(r) for r in rows],
                    "next": cursor,
                    "roles": [r.value for r in Role],
                    "restricted": view.restricted_titles(conn, district["id"]),
                }

        return render(request, "staff.html", await run_in_threadpool(load))

    def records(name: str) -> Any:
        title, serialize, columns = RECORDS[name]

        @page_handler
        async def endpoint(request: Request) -> Response:
            session = signed_in(request, "district_admin")
            after = inputs.query_after(request.query_params)

            def load() -> dict[str, Any]:
                with rt.engine.connect() as conn:
                    district, rows, cursor = tenant_rows(conn, session, name, after)
                return {
                    "district": district,
                    "title": title,
                    "path": f"{BASE}/{name}",
                    "columns": columns,
                    "rows": [serialize(r) for r in rows],
                    "next": cursor,
                }

            return render(request, "records.html", await run_in_threadpool(load))

        return endpoint

    @page_handler
    async def bell_schedules(request: Request) -> Response:
        session = signed_in(request, "district_admin")
        after = inputs.query_after(request.query_params)

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                district, schools, cursor = tenant_rows(conn, session, "schools", after)
                stored = read_models.schedules_for_schools(
                    conn, district["id"], [s["clever_id"] for s in schools]
                )
            items = []
            for school in schools:
                manual = stored.get((school["clever_id"], ScheduleSource.MANUAL.value))
                clever = stored.get((school["clever_id"], ScheduleSource.CLEVER.value))
                items.append(
                    {"school": school, "manual": manual, "clever": clever, "in_force": manual or clever}
                )
            return {"district": district, "schools": items, "next": cursor}

        return render(request, "bell_schedules.html", await run_in_threadpool(load))

    @page_handler
    async def history(request: Request) -> Response:
        session = signed_in(request, "district_admin")

        def load() -> dict[str, Any]:
            with rt.engine.connect() as conn:
                district = tenant_connection(conn, session)
                history = [run_json(r) for r in runs.list_runs(conn, district["id"], limit=PAGE_SIZE)]
                audit, _ = read_models.audit_page(
                    conn,
                    audit_log.c.district_id == district["id"],
                    district_id=district["id"],
                    before=None,
                    limit=PAGE_SIZE,
                )
            return {"district": district, "runs": history, "audit": audit, "zone": district["timezone"]}

        return render(request, "history.html", await run_in_threadpool(load))

    def confirmation(template: str) -> Any:
        @page_handler
        async def endpoint(request: Request) -> Response:
            session = signed_in(request, "district_admin")

            def load() -> dict[str, Any]:
                with rt.engine.connect() as conn:
                    return {"district": tenant_connection(conn, session)}

            return render(request, template, await run_in_threadpool(load))

        return endpoint

    async def settings_root(request: Request) -> Response:
        return RedirectResponse(BASE, status_code=303)

    return [
        Route(BASE, main, methods=["GET"]),
        Route("/integrations", settings_root, methods=["GET"]),
        Route(f"{BASE}/status", status, methods=["GET"]),
        Route(f"{BASE}/staff", staff, methods=["GET"]),
        Route(f"{BASE}/schools", records("schools"), methods=["GET"]),
        Route(f"{BASE}/classrooms", records("classrooms"), methods=["GET"]),
        Route(f"{BASE}/terms", records("terms"), methods=["GET"]),
        Route(f"{BASE}/bell-schedules", bell_schedules, methods=["GET"]),
        Route(f"{BASE}/history", history, methods=["GET"]),
        Route(f"{BASE}/disconnect", confirmation("confirm_disconnect.html"), methods=["GET"]),
        Route(f"{BASE}/delete", confirmation("confirm_delete.html"), methods=["GET"]),
    ]
