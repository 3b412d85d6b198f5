"""`Clever-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` over `f"{t}.{raw body}"`.

Any configured secret may match any v1 value, so a sender can rotate its secret (sign with old
and new) while the gateway accepts both. The timestamp bounds replays to TOLERANCE_SECONDS.

A WEBHOOK_SECRETS entry is either `secret` (its holder may send events of any district) or
`district_id=secret` (only events of that district). Only a 24-hex Clever id before the first
`=` makes an entry bound, so a secret that itself contains `=` (base64 padding) stays whole.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

HEADER = "Clever-Signature"
TOLERANCE_SECONDS = 300
_DISTRICT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


class BadSignature(ValueError):
    """The request cannot be attributed to a holder of a webhook secret; message says why."""


@dataclass(frozen=True)
class WebhookSecret:
    secret: str
    district_id: str | None = None  # None: the holder may speak for any district

    def __repr__(self) -> str:  # never show the secret itself
        return f"WebhookSecret(district_id={self.district_id!r})"


@dataclass(frozen=True)
class Sender:
    """Who signed a request: the districts its matching secrets cover (None: any district)."""

    districts: frozenset[str] | None

    def refusal(self, district_id: str | None) -> str | None:
        """Why this sender may not deliver an event of `district_id`, or None when it may."""
        if self.districts is None:
            return None
        if district_id is None:
            return "an event without a district cannot be checked against a district's secret"
        if district_id.lower() not in self.districts:
            return "the webhook secret is bound to another district"
        return None


def parse_secrets(entries: Iterable[str | WebhookSecret]) -> tuple[WebhookSecret, ...]:
    out: list[WebhookSecret] = []
    for entry in entries:
        if isinstance(entry, WebhookSecret):
            out.append(entry)
            continue
        entry = entry.strip()
        district, sep, secret = entry.partition("=")
        if sep and secret and _DISTRICT_ID.match(district):
            out.append(WebhookSecret(secret, district.lower()))
        elif entry:
            out.append(WebhookSecret(entry))
    return tuple(out)


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
            if not (value.isascii() and value.isdigit()) or len(value) > 12:  # "²".isdigit()
                raise BadSignature("malformed signature timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise BadSignature("malformed signature header")
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str | WebhookSecret],
    *,
    now: float | None = None,
) -> Sender:
    """The sender, unless no v1 matches a secret within the time tolerance (BadSignature)."""
    keys = parse_secrets(secrets)
    if not keys:
        raise BadSignature("no webhook secret configured")
    if not header:
        raise BadSignature(f"missing {HEADER} header")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("signature timestamp outside the allowed window")
    matched: list[WebhookSecret] = []
    # Every comparison is made, so timing reveals neither which secret nor which value matched.
    for key in keys:
        expected = sign(key.secret, timestamp, body).encode()
        hit = False
        for candidate in signatures:
            hit |= hmac.compare_digest(expected, candidate.encode())
        if hit:
            matched.append(key)
    if not matched:
        raise BadSignature("signature does not match")
    if any(key.district_id is None for key in matched):
        return Sender(None)
    return Sender(frozenset(key.district_id for key in matched if key.district_id))
