"""The operator console (`/ops`): every connection with its state, last run, lag and held runs;
failed messages with replay and drop; queue depths. Operators only, signed in through the same
/session handoff with an operator assertion."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway import integrations_view as view
from gateway.admin_failed import failed_json
from gateway.errors import ApiError, unavailable
from gateway.json_limits import ascii_integer
from gateway.page_forms import checked_form, page_handler
from gateway.page_render import render, signed_in
from gateway.publishing import PUBLISH_ERRORS
from gateway.queue_depths import depths
from gateway.serializers import run_json
from rostersync.runtime import Runtime
from services import failed_messages as service
from storage import connections, failed_messages, runs

ROLE = "operator"
FAILED_SHOWN = 100


def console(rt: Runtime) -> dict[str, Any]:
    now = runs.now()
    with rt.engine.connect() as conn:
        rows = []
        for district in connections.list_districts(conn):
            active = runs.active_run(conn, district["id"])
            latest = runs.latest_run(conn, district["id"])
            last_event = view.last_event_at(district)
            state = view.state_key(district, active)
            rows.append(
                {
                    "district": district,
                    "state": state,
                    "state_words": view.STATES[state],
                    "last_run": run_json(latest) if latest is not None else None,
                    "lag_seconds": (now - last_event).total_seconds() if last_event else None,
                    "needs_reauth": district["status"] == "needs_reauth",
                    "held": len(view.held_runs(conn, district["id"])),
                }
            )
        failed, _ = failed_messages.page(conn, status=failed_messages.WAITING, limit=FAILED_SHOWN)
        handled = view.recently_handled(conn)
    queue_depths, queues_error = depths(rt)
    return {
        "connections": rows,
        "failed": [failed_json(row) for row in failed],
        "handled": [failed_json(row) for row in handled],
        "queues": queue_depths,
        "queues_error": queues_error,
    }


def lag(seconds: float | None) -> str:
    if seconds is None:
        return "no event yet"
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"


def routes(rt: Runtime) -> list[Route]:
    @page_handler
    async def main(request: Request) -> Response:
        signed_in(request, ROLE)
        context = await run_in_threadpool(console, rt)
        return render(request, "ops.html", {**context, "lag": lag})

    async def resolve(request: Request, *, replay: bool) -> Response:
        session, _ = await checked_form(request, ROLE)
        failed_id = ascii_integer(request.path_params["failed_id"], max_digits=18)
        if failed_id is None:
            raise ApiError(422, "a failed message id is a positive integer")
        action = service.replay if replay else service.drop
        try:
            await run_in_threadpool(lambda: action(rt, failed_id, by=session.principal.actor))
        except LookupError:
            raise ApiError(404, "failed message not found") from None
        except service.NotWaiting as exc:
            raise ApiError(409, f"this message was already handled ({exc})") from None
        except PUBLISH_ERRORS:
            raise unavailable("the message broker is unavailable; the message is still waiting") from None
        done = "replayed" if replay else "dropped"
        return RedirectResponse(f"/ops?done={done}", status_code=303)

    @page_handler
    async def replay(request: Request) -> Response:
        return await resolve(request, replay=True)

    @page_handler
    async def drop(request: Request) -> Response:
        return await resolve(request, replay=False)

    return [
        Route("/ops", main, methods=["GET"]),
        Route("/ops/failed/{failed_id}/replay", replay, methods=["POST"]),
        Route("/ops/failed/{failed_id}/drop", drop, methods=["POST"]),
    ]
