"""The HTTP contract: what every route takes and answers, one entry per (method, path).

Each entry names its request body model, its query model and its answers per status (a model for
JSON, or a kind of page). gateway/openapi.py builds the OpenAPI document from these entries and
the app's own route table, so a route without an entry fails the contract test instead of going
undocumented. Path parameters are described by gateway/path_params (the shapes it enforces).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from gateway import api_models as out
from gateway import query_models as q
from gateway import request_models as bodies


@dataclass(frozen=True)
class Page:
    """A non-JSON answer: an HTML page, a redirect, or other text."""

    kind: Literal["html", "redirect", "text", "static"]
    description: str


HTML = Page("html", "an HTML page")
ERROR_PAGE = Page("html", "an error page: what happened and what to do next")
SEE_OTHER = Page("redirect", "redirect (post/redirect/get); `Location` says where")
Answer = type[BaseModel] | Page

BEARER, SESSION, SIGNATURE = "bearer", "session", "webhookSignature"


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    responses: Mapping[int, Answer]
    security: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    form: bool = False  # an HTML form (urlencoded) rather than JSON
    query: type[BaseModel] | None = None
    description: str = ""
    # Served only where a process has it (metrics): its absence from an app is no missing route.
    optional: bool = False


def api(
    summary: str,
    ok: Mapping[int, Answer],
    *,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    query: type[BaseModel] | None = None,
) -> Operation:
    """An admin API operation: bearer credentials, JSON in and out, the usual refusals (an answer
    in `ok` for a refusal's status replaces the plain `{"error"}`)."""
    refusals: dict[int, Answer] = dict.fromkeys((400, 401, 403, 404, 409, 422, 503), out.Error)
    if body is not None:
        refusals.update({413: out.Error, 415: out.Error})
    return Operation(
        summary,
        "admin",
        {**refusals, **ok},
        security=(BEARER,),
        body=body,
        body_required=body_required,
        query=query,
    )


def page(
    summary: str,
    ok: Mapping[int, Answer] | None = None,
    *,
    tag: str = "pages",
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
) -> Operation:
    """An integrations or console page (session cookie); refusals are error pages."""
    refusals = dict.fromkeys((400, 401, 403, 404, 409, 413, 415, 422, 503), ERROR_PAGE)
    responses = {**(ok or {200: HTML}), **refusals}
    return Operation(
        summary, tag, responses, security=(SESSION,), body=body, form=body is not None, query=query
    )


def form(summary: str, model: type[BaseModel] = bodies.CsrfForm, *, tag: str = "pages") -> Operation:
    """A form post of a page: CSRF token checked, then a redirect back."""
    return page(summary, {303: SEE_OTHER}, tag=tag, body=model)


INTEGRATIONS = "/integrations/clever"

OPERATIONS: dict[tuple[str, str], Operation] = {
    # Health, the contract itself, metrics
    ("GET", "/healthz"): Operation("Liveness: the process answers", "health", {200: out.Health}),
    ("GET", "/readyz"): Operation(
        "Readiness: database, broker and schema", "health", {200: out.Ready, 503: out.NotReady}
    ),
    ("GET", "/openapi.json"): Operation("This document", "contract", {200: out.OpenApiDocument}),
    ("GET", "/docs"): Operation("The document as a page", "contract", {200: HTML}),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics", "health", {200: Page("text", "Prometheus text format")}, optional=True
    ),
    ("GET", "/static/{path}"): Operation(
        "The pages' stylesheet and script",
        "pages",
        {200: Page("static", "a static file"), 404: out.Error},
    ),
    # Sign-in and the OAuth connect flow
    ("GET", "/session"): Operation(
        "Exchange an identity assertion for a session cookie",
        "session",
        {200: out.SessionOpened, 303: SEE_OTHER, 400: out.Error, 401: out.Error, 503: out.Error},
        query=q.SessionQuery,
        description="With `next`, a 303 to that path on this site; without, the session's summary.",
    ),
    ("GET", "/oauth/clever/start"): Operation(
        "Send a signed-in district admin to Clever's consent page",
        "oauth",
        {302: Page("redirect", "to Clever"), 400: ERROR_PAGE, 401: ERROR_PAGE, 403: ERROR_PAGE},
        security=(SESSION,),
        query=q.OAuthStartQuery,
    ),
    ("GET", "/oauth/clever/callback"): Operation(
        "Clever's redirect back: the code goes to the connect worker",
        "oauth",
        {303: SEE_OTHER, 400: ERROR_PAGE, 401: ERROR_PAGE, 503: ERROR_PAGE},
        security=(SESSION,),
        query=q.CallbackQuery,
    ),
    ("GET", "/connect/{nonce}"): Operation(
        "The connection attempt's progress page",
        "oauth",
        {200: HTML, 401: ERROR_PAGE, 404: ERROR_PAGE, 410: ERROR_PAGE},
        security=(SESSION,),
    ),
    ("GET", "/connect/{nonce}/status"): Operation(
        "The connection attempt's progress",
        "oauth",
        {200: out.ConnectStatus, 401: out.Error, 404: out.Error, 410: out.Error},
        security=(SESSION,),
    ),
    # Clever events
    ("POST", "/webhooks/clever"): Operation(
        "Signed Clever events in",
        "webhook",
        {202: out.WebhookAccepted, **dict.fromkeys((400, 401, 403, 413, 415, 422, 503), out.Error)},
        security=(SIGNATURE,),
        body=bodies.WebhookBody,
        description="One event or a list; 202 once RabbitMQ confirmed every event, else 503.",
    ),
    # The admin API
    ("GET", "/v1/districts"): api("Connections this caller reaches", {200: out.Districts}),
    ("GET", "/v1/districts/{district_id}"): api("One connection", {200: out.District}),
    ("PATCH", "/v1/districts/{district_id}"): api(
        "Change district options", {200: out.District}, body=bodies.DistrictPatch
    ),
    ("GET", "/v1/districts/{district_id}/runs"): api(
        "The district's runs, newest first", {200: out.RunPage}, query=q.RunsQuery
    ),
    ("POST", "/v1/districts/{district_id}/sync"): api(
        "Request a sync (a run in progress is returned instead)",
        {202: out.SyncAccepted, 409: out.SyncRefused},
        body=bodies.SyncRequest,
        body_required=False,
    ),
    ("POST", "/v1/districts/{district_id}/disconnect"): api(
        "Disconnect: the token is erased, the data stays", {200: out.District}
    ),
    ("POST", "/v1/districts/{district_id}/deletion"): api(
        "Delete every row of the district", {202: out.DeletionQueued}
    ),
    ("GET", "/v1/districts/{district_id}/deletion-receipts"): api(
        "Receipts of finished deletions (counts only)", {200: out.Receipts}
    ),
    ("GET", "/v1/districts/{district_id}/staff"): api(
        "Synced staff", {200: out.StaffPage}, query=q.PageQuery
    ),
    ("GET", "/v1/districts/{district_id}/schools"): api(
        "Synced schools", {200: out.SchoolPage}, query=q.PageQuery
    ),
    ("GET", "/v1/districts/{district_id}/classrooms"): api(
        "Synced classrooms", {200: out.ClassroomPage}, query=q.PageQuery
    ),
    ("GET", "/v1/districts/{district_id}/terms"): api("Synced terms", {200: out.TermPage}, query=q.PageQuery),
    ("GET", "/v1/districts/{district_id}/bell-schedules"): api(
        "Bell schedules in force, per school", {200: out.BellSchedulePage}, query=q.PageQuery
    ),
    ("PUT", "/v1/districts/{district_id}/schools/{school_id}/bell-schedule"): api(
        "Set a manual bell schedule (it wins over Clever's)",
        {200: out.BellSchedule},
        body=bodies.BellScheduleBody,
    ),
    ("DELETE", "/v1/districts/{district_id}/schools/{school_id}/bell-schedule"): api(
        "Remove the manual bell schedule", {204: Page("text", "removed; no content")}
    ),
    ("PATCH", "/v1/staff/{clever_id}"): api(
        "Set or clear a manual role override",
        {200: out.Staff},
        body=bodies.RoleOverride,
        query=q.StaffQuery,
    ),
    ("GET", "/v1/runs/{run_id}"): api("One run", {200: out.Run}),
    ("POST", "/v1/runs/{run_id}/approve"): api("Approve a held run's removals", {200: out.Run}),
    ("POST", "/v1/runs/{run_id}/discard"): api("Discard a held run", {200: out.Run}),
    ("GET", "/v1/audit"): api("Who did what, newest first", {200: out.AuditPage}, query=q.AuditQuery),
    ("GET", "/v1/failed-messages"): api(
        "Messages that gave up", {200: out.FailedMessagePage}, query=q.FailedQuery
    ),
    ("GET", "/v1/failed-messages/{failed_id}"): api("One failed message", {200: out.FailedMessage}),
    ("DELETE", "/v1/failed-messages/{failed_id}"): api("Drop a failed message", {200: out.FailedMessage}),
    ("POST", "/v1/failed-messages/{failed_id}/drop"): api("Drop a failed message", {200: out.FailedMessage}),
    ("POST", "/v1/failed-messages/{failed_id}/replay"): api(
        "Send a failed message again", {200: out.FailedMessage}
    ),
    # The integrations page (district admins) and the operator console
    ("GET", "/integrations"): page("Settings → Integrations", {303: SEE_OTHER}),
    ("GET", INTEGRATIONS): page("The Clever integration", query=q.PageNotice),
    ("GET", f"{INTEGRATIONS}/status"): Operation(
        "The page's live counters",
        "pages",
        {200: out.IntegrationStatus, 401: out.Error, 403: out.Error, 503: out.Error},
        security=(SESSION,),
    ),
    ("GET", f"{INTEGRATIONS}/staff"): page("Staff, roles and overrides", query=q.PageCursor),
    ("GET", f"{INTEGRATIONS}/schools"): page("Schools", query=q.PageCursor),
    ("GET", f"{INTEGRATIONS}/classrooms"): page("Classrooms", query=q.PageCursor),
    ("GET", f"{INTEGRATIONS}/terms"): page("Terms", query=q.PageCursor),
    ("GET", f"{INTEGRATIONS}/bell-schedules"): page("Bell schedules and the editor", query=q.PageCursor),
    ("GET", f"{INTEGRATIONS}/history"): page("Sync history and the audit log"),
    ("GET", f"{INTEGRATIONS}/disconnect"): page("Confirm disconnecting"),
    ("GET", f"{INTEGRATIONS}/delete"): page("Confirm deleting all Clever data"),
    ("POST", f"{INTEGRATIONS}/sync"): form("Sync now"),
    ("POST", f"{INTEGRATIONS}/disconnect"): form("Disconnect"),
    ("POST", f"{INTEGRATIONS}/delete"): form("Delete all Clever data", bodies.DeleteForm),
    ("POST", f"{INTEGRATIONS}/runs/{{run_id}}/approve"): form("Approve a held run's removals"),
    ("POST", f"{INTEGRATIONS}/runs/{{run_id}}/discard"): form("Discard a held run"),
    ("POST", f"{INTEGRATIONS}/staff/{{clever_id}}/role"): form(
        "Set or clear a role override", bodies.RoleForm
    ),
    ("POST", f"{INTEGRATIONS}/bell-schedules/{{school_id}}"): form(
        "Save a manual bell schedule", bodies.ScheduleForm
    ),
    ("POST", f"{INTEGRATIONS}/bell-schedules/{{school_id}}/clear"): form("Remove the manual bell schedule"),
    ("GET", "/ops"): page("The operator console", tag="ops", query=q.PageNotice),
    ("POST", "/ops/failed/{failed_id}/replay"): form("Replay a failed message", tag="ops"),
    ("POST", "/ops/failed/{failed_id}/drop"): form("Drop a failed message", tag="ops"),
}
