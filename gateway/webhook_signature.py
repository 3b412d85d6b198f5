"""`Clever-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` over `f"{t}.{raw body}"`.

Any configured secret may match any v1 value, so a sender can rotate its secret (sign with old
and new) while the gateway accepts both. The timestamp bounds replays to TOLERANCE_SECONDS.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "Clever-Signature"
TOLERANCE_SECONDS = 300


class BadSignature(ValueError):
    """The request cannot be attributed to a holder of a webhook secret; message says why."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """What a sender puts in the header (used by tests and by senders written in Python)."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                raise BadSignature("malformed signature timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise BadSignature("malformed signature header")
    return timestamp, signatures


def verify(header: str | None, body: bytes, secrets: Iterable[str], *, now: float | None = None) -> None:
    """Raises BadSignature unless some v1 matches some secret within the time tolerance."""
    keys = [s for s in secrets if s]
    if not keys:
        raise BadSignature("no webhook secret configured")
    if not header:
        raise BadSignature(f"missing {HEADER} header")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("signature timestamp outside the allowed window")
    matched = False
    # Every comparison is made, so timing reveals neither which secret nor which value matched.
    for secret in keys:
        expected = sign(secret, timestamp, body).encode()
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise BadSignature("signature does not match")
