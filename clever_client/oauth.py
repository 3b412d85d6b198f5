"""Clever OAuth (clever.com): SSO code exchange, ``/me``, and the app's district-token listing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from clever_client.errors import CleverError
from clever_client.http import DEFAULT_TIMEOUT, HttpPolicy, RetryPolicy, json_object
from clever_client.pagination import next_link, resolve

# Least data: who approved (/me), staff of every kind, and sections. No student or contact scope
# (``read:students*``, ``read:student_contacts``): rostersync never reads either.
SCOPES: tuple[str, ...] = (
    "read:user_id",
    "read:district_admins_basic",
    "read:school_admins_basic",
    "read:teachers_basic",
    "read:sections",
)
PRIVATE_SCOPE_PREFIXES: tuple[str, ...] = ("read:students", "read:student_contacts", "read:contacts")


def private_scopes(scopes: tuple[str, ...] | list[str]) -> list[str]:
    """Scopes a district granted beyond what we asked for that reach student or contact data."""
    return [s for s in scopes if s.startswith(PRIVATE_SCOPE_PREFIXES)]


@dataclass(frozen=True)
class MeInfo:
    user_id: str
    district_id: str
    user_type: str


@dataclass(frozen=True)
class DistrictToken:
    id: str
    district_id: str
    access_token: str
    scopes: tuple[str, ...]

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"DistrictToken(id={self.id!r}, district_id={self.district_id!r}, scopes={self.scopes!r})"


class CleverOAuth:
    """The app's own credentials (client id/secret) against ``oauth_base`` (https://clever.com)."""

    def __init__(
        self,
        oauth_base: str,
        api_base: str,
        client_id: str,
        client_secret: str,
        *,
        client: httpx.Client | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.oauth_base = oauth_base.rstrip("/")
        self.api_base = api_base.rstrip("/")
        self.client_id = client_id
        self._basic = httpx.BasicAuth(client_id, client_secret)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._http = HttpPolicy(
            self._client,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, backoff_base=backoff_base, backoff_cap=backoff_cap),
            sleep=sleep,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> CleverOAuth:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def authorize_url(self, redirect_uri: str, state: str, district_id: str | None = None) -> str:
        return authorize_url(self.oauth_base, self.client_id, redirect_uri, state, district_id)

    def exchange_code(self, code: str, redirect_uri: str) -> str:
        """The user's access token for a one-time code; a reused/expired code is ``CleverBadRequest``."""
        response = self._http.send(
            "POST",
            f"{self.oauth_base}/oauth/tokens",
            auth=self._basic,
            json={"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri},
            # Codes are single-use: repeating a POST that may have been processed would burn it.
            idempotent=False,
        )
        token = json_object(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise CleverError("token response has no access_token", status=response.status_code)
        return token

    def me(self, access_token: str) -> MeInfo:
        """Who a user token belongs to (``GET /v3.0/me``)."""
        response = self._http.send(
            "GET", f"{self.api_base}/v3.0/me", headers={"Authorization": f"Bearer {access_token}"}
        )
        data = json_object(response).get("data")
        if not isinstance(data, dict):
            raise CleverError("/me response has no data object", status=response.status_code)
        try:
            return MeInfo(
                user_id=str(data["id"]), district_id=str(data["district"]), user_type=str(data["type"])
            )
        except KeyError as exc:
            raise CleverError(f"/me response lacks {exc.args[0]}", status=response.status_code) from exc

    def district_tokens(self, district_id: str | None = None) -> list[DistrictToken]:
        """District-app tokens granted to this app, optionally for one district (Basic auth)."""
        query: dict[str, str] = {"owner_type": "district"}
        if district_id is not None:
            query["district"] = district_id
        url: str | None = f"{self.oauth_base}/oauth/tokens?{urlencode(query)}"
        tokens: list[DistrictToken] = []
        seen: set[str] = set()
        while url is not None and url not in seen:
            seen.add(url)
            body = json_object(self._http.send("GET", url, auth=self._basic))
            tokens.extend(_parse_token(entry) for entry in body.get("data") or [])
            link = next_link(body.get("links"))
            url = resolve(self.oauth_base, link) if link else None
        if district_id is not None:
            tokens = [t for t in tokens if t.district_id == district_id]
        return tokens

    def tokeninfo(self, token: str) -> dict[str, Any]:
        """``{"client_id": ..., "scopes": [...]}`` for a bearer token."""
        response = self._http.send(
            "GET", f"{self.oauth_base}/oauth/tokeninfo", headers={"Authorization": f"Bearer {token}"}
        )
        return json_object(response)


def _parse_token(entry: Any) -> DistrictToken:
    if not isinstance(entry, dict):
        raise CleverError("token listing entry is not an object")
    owner = entry.get("owner") or {}
    try:
        return DistrictToken(
            id=str(entry["id"]),
            district_id=str(owner["id"]),
            access_token=str(entry["access_token"]),
            scopes=tuple(str(s) for s in entry.get("scopes") or ()),
        )
    except (KeyError, TypeError) as exc:
        raise CleverError("token listing entry lacks id, owner.id or access_token") from exc


def authorize_url(
    oauth_base: str, client_id: str, redirect_uri: str, state: str, district_id: str | None = None
) -> str:
    """Where to send a district admin to approve the app (no request is made here)."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": " ".join(SCOPES),
    }
    if district_id is not None:
        query["district_id"] = district_id  # skips Clever's district picker
    return f"{oauth_base.rstrip('/')}/oauth/authorize?{urlencode(query)}"
