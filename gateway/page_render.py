"""Server-rendered pages: the Jinja2 environment, the headers every page carries, and the error
page. Templates autoescape everything; pages load one stylesheet and one script from /static, so
the Content-Security-Policy allows no inline script or style at all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from gateway.errors import ApiError
from gateway.sessions import BrowserSession, current_session

HERE = Path(__file__).parent
# form-action 'self': every form posts here, and a POST that redirects to another host is refused.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(value: datetime | None, zone: str | None = None) -> str:
    """A moment as people read it: in the district's time zone when known, else UTC."""
    if value is None:
        return "never"
    aware = value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))
    try:
        local = aware.astimezone(ZoneInfo(zone or "UTC"))
    except (KeyError, ValueError):
        local = aware.astimezone(ZoneInfo("UTC"))
    return local.strftime("%Y-%m-%d %H:%M %Z")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


_env.filters["when"] = when
_env.filters["duration"] = duration


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    session = current_session(request)
    html = _env.get_template(template).render(
        {
            "session": session,
            "csrf_token": session.csrf_token if session else "",
            # Which action just finished (post/redirect/get); the templates word it.
            "notice": request.query_params.get("done"),
            **context,
        }
    )
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


# What to do next, for each kind of refusal a page can meet.
NEXT_STEP = {
    401: "Open Settings → Integrations → Clever in VenueOS again to sign in.",
    403: "Sign in with an account that has this role, or ask your VenueOS administrator.",
    404: "Go back to the integrations page and pick it from the list there.",
    409: "Reload the integrations page to see what changed, then try again.",
    422: "Go back, correct the form and send it again.",
    503: "Wait a minute and try again; nothing was changed.",
}


class PageError(ApiError):
    """A refusal whose page needs its own heading and next step, where the status alone would
    point the wrong way (a stale form is a 403, yet signing in as someone else would not help)."""

    def __init__(self, status: int, reason: str, *, title: str, next_step: str) -> None:
        super().__init__(status, reason)
        self.title = title
        self.next_step = next_step


def error_page(
    request: Request,
    status: int,
    reason: str,
    *,
    headers: Mapping[str, str] | None = None,
    title: str | None = None,
    next_step: str | None = None,
) -> Response:
    """What happened (the reason), what to do next, and a way back."""
    context = {
        "status": status,
        "title": title,
        "reason": reason[:1].upper() + reason[1:],
        "next_step": next_step or NEXT_STEP.get(status, "Go back to the integrations page and try again."),
    }
    return render(request, "error.html", context, status=status, headers=headers)


def page_error(request: Request, exc: ApiError) -> Response:
    if isinstance(exc, PageError):
        return error_page(request, exc.status, exc.reason, title=exc.title, next_step=exc.next_step)
    return error_page(request, exc.status, exc.reason, headers=exc.headers)


def signed_in(request: Request, role: str) -> BrowserSession:
    """The session of a signed-in person with `role`; an ApiError (401/403) otherwise."""
    session = current_session(request)
    if session is None:
        raise ApiError(401, "your session is missing or has expired")
    if session.principal.role != role:
        wanted = "a district admin" if role == "district_admin" else "an operator"
        raise ApiError(403, f"this page is for {wanted}")
    return session


def static_routes() -> list[BaseRoute]:
    return [Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static")]
