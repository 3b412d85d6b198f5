"""One check, in front of every route, of what a request names in its path, query and headers.

Path parameters are checked by name (`SHAPES`): Clever ids are 24 hexadecimal characters and are
lower-cased on entry (the request's `path_params` are rewritten), so every handler below sees one
spelling; our own ids have bounded shapes of their own. A parameter name not listed gets the
generic bounded shape, so a new route is never open to NUL bytes or megabyte-long ids.

Query values and the headers the gateway reads must be free of control characters, and a query
`district_id` is a Clever id too. Every refusal is 422 (400 for a header) `{"error": reason}`,
answered before the endpoint runs, so it publishes nothing and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import error_response


@dataclass(frozen=True)
class Shape:
    pattern: re.Pattern[str]
    description: str
    lower: bool = False  # Clever ids: one spelling everywhere, idempotency keys included

    def check(self, name: str, value: str) -> str:
        """The value as handlers should see it; raises ValueError with the reason."""
        if not self.pattern.fullmatch(value):
            raise ValueError(f"{name} must be {self.description}")
        return value.lower() if self.lower else value


CLEVER_ID = Shape(re.compile(r"[0-9a-fA-F]{24}"), "a 24-character hexadecimal Clever id", lower=True)
RUN_ID = Shape(re.compile(r"[0-9A-Za-z-]{1,36}"), "a run id (a UUID: 1-36 letters, digits or hyphens)")
NONCE = Shape(re.compile(r"[A-Za-z0-9_-]{16,64}"), "a connection nonce (16-64 letters, digits, - or _)")
OWN_ID = Shape(re.compile(r"[A-Za-z0-9_-]{1,64}"), "an id of 1-64 letters, digits, - or _")

SHAPES: dict[str, Shape] = {
    "district_id": CLEVER_ID,
    "clever_id": CLEVER_ID,
    "school_id": CLEVER_ID,
    "staff_id": CLEVER_ID,
    "user_id": CLEVER_ID,
    "section_id": CLEVER_ID,
    "term_id": CLEVER_ID,
    "course_id": CLEVER_ID,
    "event_id": CLEVER_ID,
    "run_id": RUN_ID,
    "nonce": NONCE,
    "failed_id": Shape(re.compile(r"[0-9]{1,18}"), "a failed-message id (1-18 ASCII digits)"),
}
QUERY_SHAPES: dict[str, Shape] = {"district_id": CLEVER_ID}
# The headers a handler reads; no other header reaches our code.
HEADERS_READ = (b"authorization", b"content-type", b"content-length", b"clever-signature")
MAX_QUERY_VALUE = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refused(ValueError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def checked_path_params(params: dict[str, object]) -> dict[str, object]:
    checked: dict[str, object] = {}
    for name, value in params.items():
        shape = SHAPES.get(name, OWN_ID)
        try:
            checked[name] = shape.check(name, value) if isinstance(value, str) else value
        except ValueError as exc:
            raise Refused(422, str(exc)) from None
    return checked


def checked_query(raw: bytes) -> bytes:
    """The query string with Clever ids lower-cased; raises Refused."""
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Refused(422, "the query string is not valid UTF-8") from None
    changed = False
    out = []
    for name, value in pairs:
        if has_control_characters(name) or has_control_characters(value):
            raise Refused(422, "query parameters must not contain control characters")
        if len(value) > MAX_QUERY_VALUE:
            raise Refused(422, f"query parameter {name[:32]} is longer than {MAX_QUERY_VALUE} characters")
        shape = QUERY_SHAPES.get(name)
        if shape is not None and value:
            try:
                checked = shape.check(name, value)
            except ValueError as exc:
                raise Refused(422, str(exc)) from None
            changed |= checked != value
            value = checked
        out.append((name, value))
    return urlencode(out).encode() if changed else raw


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if name.lower() in HEADERS_READ and has_control_characters(value.decode("latin-1")):
            raise Refused(400, f"header {name.decode('latin-1')} must not contain control characters")


class GuardedEndpoint:
    """Wraps one route's app: checks path parameters, query and headers before it runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_headers(scope.get("headers", []))
                query = checked_query(scope.get("query_string", b""))
                params = checked_path_params(scope.get("path_params", {}))
            except Refused as exc:
                await error_response(exc.status, exc.reason)(scope, receive, send)
                return
            scope = {**scope, "path_params": params, "query_string": query}
        await self.app(scope, receive, send)
