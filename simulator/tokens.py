"""Credentials the simulator accepts: the OAuth client, district-app tokens, SSO user tokens, auth codes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.ids import machine_part, make_id

# What a district shares before any app asked for less (the recorded listing's scopes, plus
# contacts); an authorize request with a ``scope`` replaces them with what it asked for.
DISTRICT_SCOPES: tuple[str, ...] = (
    "read:district_admins_basic",
    "read:school_admins_basic",
    "read:teachers_basic",
    "read:students_basic",
    "read:student_contacts",
    "read:sections",
    "read:user_id",
)
USER_SCOPES: tuple[str, ...] = ("read:user_id", "read:sis")


@dataclass
class DistrictToken:
    id: str
    district_id: str
    access_token: str
    created: str
    scopes: tuple[str, ...] = DISTRICT_SCOPES

    def wire(self) -> dict[str, Any]:
        """Shape of one item of ``GET /oauth/tokens`` (recorded wire format)."""
        return {
            "id": self.id,
            "created": self.created,
            "owner": {"type": "district", "id": self.district_id},
            "access_token": self.access_token,
            "scopes": list(self.scopes),
        }


@dataclass(frozen=True)
class Principal:
    """Who a bearer token belongs to."""

    kind: str  # "district" or "user"
    district_id: str
    user_id: str | None = None


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    district_id: str
    user_id: str
    expires_at: float
    used: bool = False


@dataclass
class TokenRegistry:
    client_id: str
    client_secret: str
    clock: Callable[[], float] = time.time
    code_ttl: float = 60.0
    district_tokens: dict[str, DistrictToken] = field(default_factory=dict)
    _principals: dict[str, Principal] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    # One-shot override for the next /oauth/authorize: {"error": "access_denied"} or {"user_id": "..."}.
    next_authorize: dict[str, Any] | None = None
    _generation: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def issue_district_token(self, district_id: str, seed: object) -> DistrictToken:
        """(Re)issue the district's token, deterministic per (seed, district, generation); old one dies."""
        with self._lock:
            gen = self._generation.get(district_id, 0) + 1
            self._generation[district_id] = gen
            old = self.district_tokens.pop(district_id, None)
            if old is not None:
                self._principals.pop(old.access_token, None)
            value = hashlib.sha1(f"token|{seed}|{district_id}|{gen}".encode()).hexdigest()
            token = DistrictToken(
                make_id(int(self.clock()), machine_part("token", district_id), gen),
                district_id,
                value,
                self._now_iso(),
            )
            self.district_tokens[district_id] = token
            self._principals[value] = Principal("district", district_id)
            return token

    def set_scopes(self, district_id: str, scopes: tuple[str, ...]) -> None:
        """What the district granted at the consent screen; the token itself does not change."""
        with self._lock:
            token = self.district_tokens.get(district_id)
            if token is not None:
                token.scopes = scopes

    def revoke_district(self, district_id: str) -> bool:
        with self._lock:
            old = self.district_tokens.pop(district_id, None)
            if old is None:
                return False
            self._principals.pop(old.access_token, None)
            return True

    def resolve(self, bearer: str) -> Principal | None:
        return self._principals.get(bearer)

    def check_client(self, client_id: str, client_secret: str) -> bool:
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            client_secret, self.client_secret
        )

    def new_code(self, district_id: str, user_id: str, redirect_uri: str) -> str:
        code = secrets.token_hex(10)
        with self._lock:
            self.codes[code] = AuthCode(
                self.client_id, redirect_uri, district_id, user_id, self.clock() + self.code_ttl
            )
        return code

    def redeem_code(self, code: str, redirect_uri: str | None) -> str | None:
        """Single-use code -> user token; None if unknown, used, expired or redirect_uri mismatched."""
        with self._lock:
            record = self.codes.get(code)
            if record is None or record.used or self.clock() > record.expires_at:
                return None
            if redirect_uri is not None and redirect_uri != record.redirect_uri:
                return None
            record.used = True
            token = secrets.token_hex(20)
            self._principals[token] = Principal("user", record.district_id, record.user_id)
            return token

    def pop_next_authorize(self) -> dict[str, Any] | None:
        with self._lock:
            override, self.next_authorize = self.next_authorize, None
            return override
