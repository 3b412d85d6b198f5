"""The OAuth `state` parameter: a random nonce and an expiry, signed with HMAC-SHA256.

Format `<nonce>.<expires unix seconds>.<hex signature>`. The signature protects against forged
or edited states; the expiry bounds how long a link is usable; the nonce is recorded once used
(in `oauth_states`), so a state replayed after a callback is refused. The signature also covers
a `binding` that never appears in the state (the browser session and tenant that started it),
so the state verifies only within that session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

STATE_TTL_SECONDS = 10 * 60
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class InvalidState(ValueError):
    """The state cannot be trusted; the message is shown to the admin."""


@dataclass(frozen=True)
class VerifiedState:
    nonce: str
    expires_at: int


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def issue_state(key: bytes, *, now: float | None = None, nonce: str | None = None, binding: str = "") -> str:
    current = time.time() if now is None else now
    payload = f"{nonce or new_nonce()}.{int(current) + STATE_TTL_SECONDS}"
    return f"{payload}.{_sign(key, payload + binding)}"


def verify_state(
    key: bytes, state: str | None, *, now: float | None = None, binding: str = ""
) -> VerifiedState:
    """Check form, then signature (constant time), then expiry; raises InvalidState."""
    if not state:
        raise InvalidState("the state parameter is missing")
    parts = state.split(".")
    if len(parts) != 3:
        raise InvalidState("the state parameter is malformed")
    nonce, expires, signature = parts
    if not _NONCE.match(nonce) or not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        raise InvalidState("the state parameter is malformed")
    expected = _sign(key, f"{nonce}.{expires}{binding}")
    if not _SIGNATURE.match(signature) or not hmac.compare_digest(expected, signature):
        # Forged, edited, or started from another browser session or tenant.
        raise InvalidState("the state parameter has a bad signature or belongs to another session")
    current = time.time() if now is None else now
    if int(expires) < current:
        raise InvalidState("the sign-in link expired; please start again")
    return VerifiedState(nonce, int(expires))
