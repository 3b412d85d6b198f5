"""One ASGI middleware that times every HTTP request and captures its status, then tells each
observer (the request log, the HTTP metrics): one wrapper around the app instead of one each."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "(unmatched)"

# Called once a request is answered (or failed): its scope, status and duration in seconds.
Observer = Callable[[Scope, int, float], None]


def route_template(scope: Scope) -> str:
    """The matched route's template (`/v1/districts/{district_id}`), never the raw path: ids and
    query strings (OAuth codes) stay out of logs and metric labels."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else UNMATCHED


class ObservedRequests:
    def __init__(self, app: ASGIApp, observers: Sequence[Observer]) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            seconds = time.perf_counter() - started
            for observe in self.observers:
                observe(scope, status, seconds)
