"""Who may call the admin API: `Authorization: Bearer <credential>`.

The credential is an identity assertion VenueOS signed (a JWT naming a district admin or an
operator, see gateway/identity.py) or one of ADMIN_TOKENS (an operator, for machines and the CLI).
The audit log and the logs name a token by its fingerprint (first 8 hex digits of its SHA-256),
which says which token acted without revealing it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import ApiError, unavailable
from gateway.identity import (
    IdentityKeyring,
    IdentityKeysUnavailable,
    InvalidAssertion,
    Principal,
    operator_token_principal,
    verify_assertion,
)

Endpoint = Callable[[Request], Awaitable[Response]]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def identity_keyring(request: Request) -> IdentityKeyring:
    """The app's identity keys, built once (the JWKS client keeps its cache across requests)."""
    state = request.app.state
    keyring = getattr(state, "identity_keyring", None)
    if keyring is None:
        keyring = IdentityKeyring.from_settings(state.runtime.settings)
        state.identity_keyring = keyring
    return keyring


def _matching_token(presented: str, tokens: tuple[str, ...]) -> str | None:
    # Compare against every token, so the time taken does not say which one nearly matched.
    matched = None
    for token in tokens:
        if hmac.compare_digest(token.encode(), presented.encode()):
            matched = token
    return matched


def authenticate(header: str | None, tokens: tuple[str, ...], keyring: IdentityKeyring) -> Principal:
    """The principal a bearer credential names; raises a 401 ApiError (503 if JWKS is down)."""
    if not tokens and not keyring.configured:
        raise ApiError(401, "no admin token or identity key configured", _CHALLENGE)
    scheme, _, presented = (header or "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "missing bearer token", _CHALLENGE)
    matched = _matching_token(presented, tokens)
    if matched is not None:
        return operator_token_principal(fingerprint(matched))
    if presented.count(".") == 2 and keyring.configured:  # shaped like a JWT
        try:
            return verify_assertion(presented, keyring)
        except InvalidAssertion as exc:
            raise ApiError(401, str(exc), _CHALLENGE) from None
        except IdentityKeysUnavailable as exc:
            raise unavailable(str(exc)) from None
    raise ApiError(401, "invalid bearer token", _CHALLENGE)


def principal(request: Request) -> Principal:
    """Who is calling; set by `require_admin` before the handler runs."""
    found: Principal = request.state.principal
    return found


def admin_actor(request: Request) -> str:
    """Who acts, for audit rows and `requested_by` (see Principal.actor)."""
    return principal(request).actor


def require_operator(request: Request) -> None:
    if not principal(request).is_operator:
        raise ApiError(403, "only an operator may do this")


def require_admin(tokens: tuple[str, ...]) -> Callable[[Endpoint], Endpoint]:
    """Any valid credential passes; handlers scope what a district admin sees (admin_scope)."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            keyring = identity_keyring(request)
            header = request.headers.get("authorization")
            if keyring.jwks_client is not None:  # fetching the JWKS document blocks
                found = await run_in_threadpool(authenticate, header, tokens, keyring)
            else:
                found = authenticate(header, tokens, keyring)
            request.state.principal = found
            if found.credential.startswith("token:"):
                request.state.admin_fingerprint = found.sub
            return await endpoint(request)

        return guarded

    return decorate
