"""Bearer tokens for the admin API (ADMIN_TOKENS; any of them is accepted).

The audit log and the logs name a token by its fingerprint (first 8 hex digits of its SHA-256),
which says which token acted without revealing it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import ApiError

Endpoint = Callable[[Request], Awaitable[Response]]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def authenticate(header: str | None, tokens: tuple[str, ...]) -> str:
    """The fingerprint of the matching token; raises a 401 ApiError otherwise."""
    if not tokens:
        raise ApiError(401, "no admin token configured", _CHALLENGE)
    scheme, _, presented = (header or "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "missing bearer token", _CHALLENGE)
    # Compare against every token, so the time taken does not say which one nearly matched.
    matched = None
    for token in tokens:
        if hmac.compare_digest(token.encode(), presented.encode()):
            matched = token
    if matched is None:
        raise ApiError(401, "invalid bearer token", _CHALLENGE)
    return fingerprint(matched)


def admin_actor(request: Request) -> str:
    """Who acts, for audit rows and `requested_by`: `admin:<fingerprint>`."""
    return f"admin:{request.state.admin_fingerprint}"


def require_admin(tokens: tuple[str, ...]) -> Callable[[Endpoint], Endpoint]:
    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            request.state.admin_fingerprint = authenticate(request.headers.get("authorization"), tokens)
            return await endpoint(request)

        return guarded

    return decorate
