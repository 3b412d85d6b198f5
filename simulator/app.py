"""Starlette application: Clever data/events API, OAuth, and the ``/_sim`` control API on one server."""

from __future__ import annotations

import base64
import binascii

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator import api, control, oauth
from simulator.requestlog import RequestLog
from simulator.state import SimulatorConfig, SimulatorState


def _token_from_header(value: str) -> str | None:
    """Bearer token, or ``basic:<client_id>`` for HTTP Basic (secrets are never logged)."""
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip() or None
    if scheme.lower() == "basic":
        try:
            return "basic:" + base64.b64decode(rest.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return "basic:?"
    return None


class RequestLogMiddleware:
    """Records method, path, query pairs, token and final status of every non-``/_sim`` request."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            auth = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
            self.log.add(
                scope["method"],
                scope["path"],
                scope["query_string"].decode("latin-1"),
                _token_from_header(auth),
                status,
                int((scope.get("state") or {}).get("student_objects", 0)),
            )


def build_app(state: SimulatorState | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.sim`` is the :class:`SimulatorState` it serves."""
    state = state or SimulatorState(SimulatorConfig())
    app = Starlette(routes=[*api.routes(state), *oauth.routes(state), *control.routes(state)])
    app.add_middleware(RequestLogMiddleware, log=state.log)
    app.state.sim = state
    return app
