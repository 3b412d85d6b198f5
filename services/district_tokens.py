"""A district's Clever token, read from the database, repaired from Clever's token listing.

Clever rotates tokens; the district id is what lasts. After a 401 the listing is read once: a
new token is stored (encrypted) and used, no token means the district must authorize again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from clever_client.api import CleverApi
from clever_client.errors import CleverUnavailable, NeedsReauth
from rostersync.runtime import Runtime
from storage import connections

log = structlog.get_logger(__name__)


class StoredTokenSource:
    def __init__(self, rt: Runtime, district_id: str) -> None:
        self._rt = rt
        self._district_id = district_id

    def current(self) -> str:
        with self._rt.engine.connect() as conn:
            row = connections.get_district(conn, self._district_id)
        if row is None or not row["token_ciphertext"]:
            raise NeedsReauth("the district has no stored token")
        return self._rt.keyring.decrypt(row["token_ciphertext"])

    def replace_rejected(self, rejected: str) -> str:
        with self._rt.oauth() as oauth:
            listed = oauth.district_tokens(self._district_id)
        if any(t.access_token == rejected for t in listed):
            # Clever still lists the token it refused: a passing fault, not a revocation.
            raise CleverUnavailable("Clever refused a token it still lists; retrying later")
        fresh = next(iter(listed), None)
        with self._rt.engine.begin() as conn:
            district = connections.get_district(conn, self._district_id, for_update=True)
            if district is None or district["status"] == "disconnected":
                raise NeedsReauth("the district was disconnected")
            if fresh is None:
                connections.set_status(conn, self._district_id, "needs_reauth")
                log.warning("clever.token_gone", district_id=self._district_id)
                raise NeedsReauth("Clever rejected the token and lists no other for this district")
            connections.replace_token(
                conn, self._district_id, self._rt.keyring.encrypt(fresh.access_token), fresh.id
            )
        log.info("clever.token_rotated", district_id=self._district_id)
        return fresh.access_token

    def __repr__(self) -> str:
        return f"StoredTokenSource({self._district_id!r})"


def open_api(rt: Runtime, district_id: str, *, sleep: Callable[[float], None] = time.sleep) -> CleverApi:
    """`sleep`: how the client waits out rate limits and backoff (the ingest hands on instead)."""
    return CleverApi(rt.settings.clever_api_base, StoredTokenSource(rt, district_id), sleep=sleep)
