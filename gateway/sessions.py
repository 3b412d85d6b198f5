"""Browser sessions: the sign-in handoff from VenueOS, and the signed cookie it sets.

VenueOS sends a signed-in person to `GET /session?assertion=<JWT>&next=<path>`; the assertion is
checked once and exchanged for a stateless cookie `<base64url JSON>.<hex HMAC-SHA256>` (HttpOnly,
SameSite=Lax, Secure unless PUBLIC_BASE_URL is plain http). The cookie names the principal, a
random session id (the OAuth state is bound to it) and an expiry; forms carry a CSRF token derived
from the session id, so it needs no storage. A session never outlives the assertion that opened it:
a stateless cookie cannot be revoked, so VenueOS stays the authority on who is signed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.admin_auth import identity_keyring
from gateway.errors import ApiError
from gateway.identity import (
    ROLES,
    IdentityKeysUnavailable,
    InvalidAssertion,
    Principal,
    verify_assertion,
)
from rostersync.runtime import Runtime

log = structlog.get_logger(__name__)

COOKIE_NAME = "rostersync_session"
MAX_COOKIE_LENGTH = 2048
_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9\-._~/%?=&+]*$")  # a path on this host, nothing else
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class BrowserSession:
    id: str
    principal: Principal
    csrf_token: str
    expires_at: datetime


def session_key(rt: Runtime) -> bytes:
    """SESSION_SECRET, or else a key derived from the first ENCRYPTION_KEYS key."""
    if rt.settings.session_secret:
        return hashlib.sha256(b"rostersync:session:" + rt.settings.session_secret.encode()).digest()
    return rt.keyring.signing_key("session")


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def csrf_token_for(key: bytes, session_id: str) -> str:
    return _sign(key, f"csrf:{session_id}".encode())


def encode_session(key: bytes, principal: Principal, session_id: str, expires: float) -> str:
    claims = {
        "sid": session_id,
        "sub": principal.sub,
        "role": principal.role,
        "tenant": principal.tenant,
        "exp": int(expires),
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
    return f"{payload.decode()}.{_sign(key, payload)}"


def decode_session(key: bytes, value: str, *, now: float | None = None) -> BrowserSession | None:
    """The session a cookie names, or None when it is malformed, forged or expired."""
    if len(value) > MAX_COOKIE_LENGTH or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(_sign(key, payload.encode()), signature):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict) or not _claims_ok(claims):
        return None
    if claims["exp"] <= (time.time() if now is None else now):
        return None
    principal = Principal(
        sub=claims["sub"],
        role=claims["role"],
        tenant=claims["tenant"],
        credential="session",
        expires_at=float(claims["exp"]),
    )
    return BrowserSession(
        id=claims["sid"],
        principal=principal,
        csrf_token=csrf_token_for(key, claims["sid"]),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def _claims_ok(claims: dict[str, Any]) -> bool:
    return (
        isinstance(claims.get("sid"), str)
        and isinstance(claims.get("sub"), str)
        and claims.get("role") in ROLES
        and (claims.get("tenant") is None or isinstance(claims.get("tenant"), str))
        and isinstance(claims.get("exp"), int)
    )


def current_session(request: Request) -> BrowserSession | None:
    value = request.cookies.get(COOKIE_NAME)
    if not value:
        return None
    return decode_session(session_key(request.app.state.runtime), value)


def require_district_admin_session(request: Request) -> BrowserSession:
    """The signed-in district admin's session; 401 without one, 403 for an operator's."""
    session = current_session(request)
    if session is None:
        raise ApiError(401, "sign in through VenueOS first (your session is missing or expired)")
    if session.principal.role != "district_admin":
        raise ApiError(403, "only a district admin may do this")
    return session


def require_csrf(request: Request, form_value: str | None) -> BrowserSession:
    """A form post must carry the CSRF token of the session that sent it."""
    session = current_session(request)
    if session is None:
        raise ApiError(401, "sign in through VenueOS first (your session is missing or expired)")
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500).
    if not form_value or not hmac.compare_digest(session.csrf_token.encode(), form_value.encode()):
        raise ApiError(403, "the form's CSRF token does not match your session; reload the page")
    return session


def safe_next(value: str | None) -> str | None:
    """A relative path on this host, or None: never another host (`//evil`, `https://...`)."""
    if value is None or len(value) > 512 or not _NEXT.match(value):
        return None
    return value


def routes(rt: Runtime) -> list[Route]:
    secure = not rt.settings.public_base_url.startswith("http://")

    async def handoff(request: Request) -> Response:
        assertion = request.query_params.get("assertion") or ""
        raw_next = request.query_params.get("next")
        target = safe_next(raw_next)
        if raw_next is not None and target is None:
            raise ApiError(400, "next must be a path on this site, starting with a single /")
        if not assertion:
            raise ApiError(401, "the assertion parameter is missing", _NO_STORE)
        keyring = identity_keyring(request)
        try:
            principal = await run_in_threadpool(verify_assertion, assertion, keyring)
        except InvalidAssertion as exc:
            raise ApiError(401, str(exc), _NO_STORE) from None
        except IdentityKeysUnavailable as exc:
            raise ApiError(503, str(exc), {"Retry-After": "30", **_NO_STORE}) from None
        now = time.time()
        expires = min(now + rt.settings.session_ttl_seconds, principal.expires_at or now)
        session_id = secrets.token_urlsafe(18)
        cookie = encode_session(session_key(rt), principal, session_id, expires)
        response: Response
        if target is not None:
            response = RedirectResponse(target, status_code=303, headers=_NO_STORE)
        else:
            body = {"role": principal.role, "tenant": principal.tenant, "expires_at": int(expires)}
            response = JSONResponse(body, headers=_NO_STORE)
        response.set_cookie(
            COOKIE_NAME,
            cookie,
            max_age=max(int(expires - now), 0),
            path="/",
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        log.info("session.opened", **principal.log_fields(), ttl_seconds=int(expires - now))
        return response

    return [Route("/session", handoff, methods=["GET"])]
