"""HTML form posts: a capped urlencoded body, its CSRF token checked before anything else, and
page handlers that turn refusals into error pages (what happened, what to do next)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import ApiError
from gateway.inputs import read_capped
from gateway.page_render import PageError, page_error
from gateway.path_params import has_control_characters
from gateway.sessions import BrowserSession, require_csrf

MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

Handler = Callable[[Request], Awaitable[Response]]


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields (the last of a repeated name wins); 415/413/422 on a malformed body."""
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        raise ApiError(415, "the form must be sent as application/x-www-form-urlencoded")
    raw = await read_capped(request, MAX_FORM_BYTES)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "the form is not valid UTF-8") from None
    fields = dict(pairs)
    # Newlines are fine in a textarea (the bell schedule editor); other control characters are not.
    if any(has_control_characters(v.replace("\r", "").replace("\n", "")) for v in fields.values()):
        raise ApiError(422, "the form must not contain control characters")
    return fields


async def checked_form(request: Request, role: str) -> tuple[BrowserSession, dict[str, str]]:
    """The form of a signed-in `role`, after its CSRF token matched the session's."""
    fields = await read_form(request)
    try:
        session = require_csrf(request, fields.get("csrf_token"))
    except ApiError as exc:
        if exc.status != 403:  # no session at all: the sign-in page says what to do
            raise
        # A form from an older session (or another site): nothing happened, a fresh form fixes it.
        raise PageError(
            403,
            f"nothing was changed: {exc.reason}",
            title="This form is out of date",
            next_step="Reload the page to get a fresh form and send it again. If this keeps "
            "happening, open Settings → Integrations → Clever in VenueOS again to sign in anew.",
        ) from None
    if session.principal.role != role:
        raise ApiError(403, "this action is not for your role")
    return session, fields


def page_handler(handler: Handler) -> Handler:
    """Refusals (ApiError) become an HTML error page with the same status."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return page_error(request, exc)

    return wrapped
