"""Connect via Clever: send the admin to Clever with a signed state, take the callback, hand the
code to the connect actor, and show a progress page. The gateway never calls Clever itself."""

from __future__ import annotations

import re
from typing import Any

import structlog
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clever_client.oauth import authorize_url
from gateway import pages
from gateway.errors import RETRY_AFTER_SECONDS, ApiError, not_found
from gateway.oauth_state import InvalidState, issue_state, verify_state
from gateway.publishing import publish
from rostersync.runtime import Runtime
from storage import connections, read_models, runs

log = structlog.get_logger(__name__)

STATE_PURPOSE = "oauth-state"
_DISTRICT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def redirect_uri(rt: Runtime) -> str:
    return f"{rt.settings.public_base_url}/oauth/clever/callback"


def routes(rt: Runtime) -> list[Route]:
    key = rt.keyring.signing_key(STATE_PURPOSE)

    async def start(request: Request) -> Response:
        district_id = request.query_params.get("district_id") or None
        if district_id and not _DISTRICT_ID.match(district_id):
            return pages.error_page("The district id is not valid.")
        s = rt.settings
        url = authorize_url(
            s.clever_oauth_base, s.clever_client_id, redirect_uri(rt), issue_state(key), district_id
        )
        return RedirectResponse(url, status_code=302)

    async def callback(request: Request) -> Response:
        query = request.query_params
        error = query.get("error")
        if error:
            log.info("oauth.declined", error=error[:64])
            reason = "The district administrator declined to authorize the connection in Clever."
            if error != "access_denied":
                reason = f"Clever did not authorize the connection ({error[:64]})."
            return pages.error_page(reason)
        try:
            state = verify_state(key, query.get("state"))
        except InvalidState as exc:
            log.info("oauth.bad_state", reason=str(exc))
            return pages.error_page(str(exc))
        code = query.get("code")
        if not code:
            return pages.error_page("Clever sent no authorization code.")
        try:
            claimed = await run_in_threadpool(read_models.claim_nonce, rt.engine, state.nonce)
        except OperationalError:
            return _unavailable("The database is unavailable; please try again shortly.")
        if not claimed:
            log.info("oauth.replayed_state")
            return pages.error_page("This sign-in link was already used; please start again.")
        kwargs = {"code": code, "nonce": state.nonce, "redirect_uri": redirect_uri(rt)}
        try:
            await publish(rt, "connect", "connect_district", kwargs)
        except ApiError:
            # Nothing was enqueued: forget the nonce so the same link works on a retry.
            await run_in_threadpool(_release, rt, state.nonce)
            return _unavailable("The service is busy; please try again shortly.")
        log.info("oauth.callback_accepted")
        return RedirectResponse(f"/connect/{state.nonce}", status_code=303)

    async def progress(request: Request) -> Response:
        if await run_in_threadpool(connect_status, rt, request.path_params["nonce"]) is None:
            return pages.error_page("This connection attempt is unknown; please start again.", status=404)
        return pages.progress_page()

    async def status(request: Request) -> Response:
        nonce = request.path_params["nonce"]
        body = await run_in_threadpool(connect_status, rt, nonce)
        if body is None:
            raise not_found("connection attempt")
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return [
        Route("/oauth/clever/start", start, methods=["GET"]),
        Route("/oauth/clever/callback", callback, methods=["GET"]),
        Route("/connect/{nonce}", progress, methods=["GET"]),
        Route("/connect/{nonce}/status", status, methods=["GET"]),
    ]


def _release(rt: Runtime, nonce: str) -> None:
    with rt.engine.begin() as conn:
        read_models.release_nonce(conn, nonce)


def _unavailable(reason: str) -> Response:
    return pages.error_page(reason, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def connect_status(rt: Runtime, nonce: str) -> dict[str, Any] | None:
    """What the progress page shows: waiting for the connect actor, failed, or connected."""
    with rt.engine.connect() as conn:
        row = read_models.get_oauth_state(conn, nonce)
        if row is None:
            return None
        body: dict[str, Any] = {"state": "waiting", "error": None, "district": None, "run": None}
        if row["error"]:
            body.update(state="failed", error=row["error"])
            return body
        if row["district_id"] is None:
            return body
        district = connections.get_district(conn, row["district_id"])
        run = runs.latest_run(conn, row["district_id"])
    body["state"] = "connected"
    if district is not None:
        body["district"] = {"id": district["id"], "name": district["name"], "status": district["status"]}
    if run is not None:
        body["run"] = {"id": run["id"], "status": run["status"], "counters": run["counters"] or {}}
    return body
