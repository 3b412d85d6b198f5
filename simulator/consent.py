"""Clever's consent screen, as a browser meets it: the app's name, the scopes asked for, and
Approve / Deny. The form posts the authorize parameters back to /oauth/authorize with the
decision, so the rest of the flow (code or error=access_denied) is the authorize endpoint's.
Shown only when the simulator's `consent_screen` is on (`--consent-screen`, or POST
/_sim/oauth {"consent_screen": true}); otherwise authorize approves at once, as scripts expect."""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse

from simulator.scopes import parse_scope_param

APPROVE, DENY = "approve", "deny"
MAX_FORM_BYTES = 16 * 1024


def consent_page(params: dict[str, str], district_name: str) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in params.items()
        if k != "decision"
    )
    scopes = parse_scope_param(params.get("scope")) or ()
    items = (
        "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes) or "<li>the app's default access</li>"
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Authorize the application · Clever</title></head><body>"
        "<main><h1>Authorize the application</h1>"
        f"<p>The application is asking for access to <strong>{escape(district_name)}</strong>:</p>"
        f'<ul id="scopes">{items}</ul>'
        '<form method="post" action="/oauth/authorize">'
        f'{hidden}<button type="submit" name="decision" value="{APPROVE}" id="approve">Approve</button> '
        f'<button type="submit" name="decision" value="{DENY}" id="deny">Deny</button>'
        "</form></main></body></html>"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def posted_params(request: Request) -> dict[str, str]:
    """The consent form's fields (urlencoded; no multipart parser needed)."""
    raw = (await request.body())[:MAX_FORM_BYTES]
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
