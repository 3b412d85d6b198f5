"""Connect via Clever: a signed-in district admin is sent to Clever with a state bound to their
session and tenant; the callback uses the state up (whatever Clever answered), hands the code,
encrypted, to the connect actor, and shows a progress page only that session may see, for an
hour. The gateway never calls Clever itself."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import RowMapping
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clever_client.oauth import authorize_url
from domain.run_counters import documented as run_counters
from gateway import pages
from gateway.errors import RETRY_AFTER_SECONDS, ApiError
from gateway.oauth_state import InvalidState, issue_state, verify_state
from gateway.publishing import publish
from gateway.sessions import BrowserSession, current_session, require_district_admin_session
from rostersync.runtime import Runtime
from storage import connections, read_models, runs

log = structlog.get_logger(__name__)

STATE_PURPOSE = "oauth-state"
# The progress page and its status answer for this long after the callback, then never again.
ATTEMPT_VISIBLE_FOR = timedelta(hours=1)
MAX_CODE_LENGTH = 512
_DISTRICT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def redirect_uri(rt: Runtime) -> str:
    return f"{rt.settings.public_base_url}/oauth/clever/callback"


def session_digest(session_id: str) -> str:
    """What `oauth_states.session_id` keeps: the session id itself never reaches the database."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def state_binding(session: BrowserSession) -> str:
    """What the state's signature covers besides itself: the session and tenant that started it."""
    return f"|{session_digest(session.id)}|{session.principal.tenant or ''}"


def routes(rt: Runtime) -> list[Route]:
    key = rt.keyring.signing_key(STATE_PURPOSE)

    async def start(request: Request) -> Response:
        try:
            session = require_district_admin_session(request)
        except ApiError as exc:
            return pages.error_page(exc.reason, status=exc.status)
        district_id = request.query_params.get("district_id") or None
        if district_id and not _DISTRICT_ID.match(district_id):
            return pages.error_page("The district id is not valid.")
        s = rt.settings
        state = issue_state(key, binding=state_binding(session))
        url = authorize_url(s.clever_authorize_base, s.clever_client_id, redirect_uri(rt), state, district_id)
        return RedirectResponse(url, status_code=302)

    async def callback(request: Request) -> Response:
        query = request.query_params
        session = current_session(request)
        if session is None or session.principal.role != "district_admin":
            log.info("oauth.no_session")
            return pages.error_page(
                "Your VenueOS session is missing or expired; sign in and start again.", status=401
            )
        try:
            state = verify_state(key, query.get("state"), binding=state_binding(session))
        except InvalidState as exc:
            log.info("oauth.bad_state", reason=str(exc))
            return pages.error_page(str(exc))
        bound = {"tenant_id": session.principal.tenant, "session_id": session_digest(session.id)}
        code, refusal = query.get("code"), _refusal(query.get("error"), query.get("code"))
        try:
            # Whatever Clever answered, the state is used up here: a denied link cannot be retried.
            claimed = await run_in_threadpool(
                read_models.claim_nonce, rt.engine, state.nonce, error=refusal, **bound
            )
        except OperationalError:
            return _unavailable("The database is unavailable; please try again shortly.")
        if not claimed:
            log.info("oauth.replayed_state")
            return pages.error_page("This sign-in link was already used; please start again.")
        if refusal is not None or code is None:
            log.info("oauth.declined", error=(query.get("error") or "no_code")[:64])
            return pages.error_page(refusal or "Clever sent no authorization code.")
        kwargs = {
            # Encrypted with the token keyring: the code never sits in RabbitMQ in plaintext.
            "code_ciphertext": rt.keyring.encrypt(code),
            "nonce": state.nonce,
            "redirect_uri": redirect_uri(rt),
            "tenant_id": session.principal.tenant,
            "actor": session.principal.actor,
        }
        try:
            await publish(rt, "connect", "connect_district", kwargs)
        except ApiError:
            # Nothing was enqueued: forget the nonce so the same link works on a retry.
            await run_in_threadpool(_release, rt, state.nonce)
            return _unavailable("The service is busy; please try again shortly.")
        log.info("oauth.callback_accepted")
        # Absolute, from PUBLIC_BASE_URL: a redirect never takes its host from the request.
        return RedirectResponse(f"{rt.settings.public_base_url}/connect/{state.nonce}", status_code=303)

    async def progress(request: Request) -> Response:
        try:
            body = await run_in_threadpool(_status_for, rt, request)
        except ApiError as exc:
            return pages.error_page(exc.reason, status=exc.status)
        return pages.progress_page(body)

    async def status(request: Request) -> Response:
        body = await run_in_threadpool(_status_for, rt, request)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return [
        Route("/oauth/clever/start", start, methods=["GET"]),
        Route("/oauth/clever/callback", callback, methods=["GET"]),
        Route("/connect/{nonce}", progress, methods=["GET"]),
        Route("/connect/{nonce}/status", status, methods=["GET"]),
    ]


def _refusal(error: str | None, code: str | None) -> str | None:
    """Why the callback cannot go on (shown to the admin and kept with the used-up state)."""
    if error == "access_denied":
        return "The district administrator declined to authorize the connection in Clever."
    if error:
        return f"Clever did not authorize the connection ({error[:64]})."
    if not code:
        return "Clever sent no authorization code."
    if len(code) > MAX_CODE_LENGTH or not code.isprintable():
        return "Clever sent a malformed authorization code."
    return None


def _release(rt: Runtime, nonce: str) -> None:
    with rt.engine.begin() as conn:
        read_models.release_nonce(conn, nonce)


def _unavailable(reason: str) -> Response:
    return pages.error_page(reason, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _status_for(rt: Runtime, request: Request) -> dict[str, Any]:
    """The attempt's progress, for the session that started it and within the hour; else an
    ApiError (another session's attempt is simply not found)."""
    session = current_session(request)
    if session is None:
        raise ApiError(401, "Your VenueOS session is missing or expired; sign in again.")
    with rt.engine.connect() as conn:
        row = read_models.get_oauth_state(conn, request.path_params["nonce"])
        if row is None or row["session_id"] != session_digest(session.id):
            raise ApiError(404, "connection attempt not found")
        if runs.aware(row["used_at"]) + ATTEMPT_VISIBLE_FOR < runs.now():
            raise ApiError(410, "this connection page expired; the connection itself goes on")
        return connect_status(conn, row)


def connect_status(conn: Any, row: RowMapping) -> dict[str, Any]:
    """Waiting for the connect actor, failed, or connected with its own run's progress."""
    body: dict[str, Any] = {"state": "waiting", "error": None, "district": None, "run": None}
    if row["error"]:
        body.update(state="failed", error=row["error"])
        return body
    if row["district_id"] is None:
        return body
    body["state"] = "connected"
    district = connections.get_district(conn, row["district_id"])
    if district is not None:
        body["district"] = {"id": district["id"], "name": district["name"], "status": district["status"]}
    run = runs.get_run(conn, row["run_id"]) if row["run_id"] else None
    if run is not None:
        counters = run_counters(run["counters"] or runs.page_totals(conn, run["id"])[1])
        body["run"] = {"id": run["id"], "status": run["status"], "counters": counters, "error": run["error"]}
    return body
