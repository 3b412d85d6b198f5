"""Finish "Connect via Clever": exchange the code, find the district token, store it, sync.

Runs in the connect actor, not the gateway: Clever's codes live a minute and the exchange
talks to Clever, which the gateway never does.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select, update

from clever_client.errors import CleverBadRequest
from rostersync.runtime import Runtime
from services.sync_requests import request_sync
from storage import connections
from storage.tables import audit_log, oauth_states

log = structlog.get_logger(__name__)


class ConnectFailed(Exception):
    """Clever refused the connection; recorded for the progress page, never retried."""


def connect_district(rt: Runtime, *, code: str, nonce: str, redirect_uri: str) -> str:
    """Returns the connected district id."""
    already = _connected_district(rt, nonce)
    if already is not None:
        # Redelivered after the connection was saved: the code is spent, only the sync is left.
        request_sync(rt, already, kind="full", requested_by="connect")
        return already
    try:
        with rt.oauth() as oauth:
            user_token = oauth.exchange_code(code, redirect_uri)
            me = oauth.me(user_token)
            tokens = oauth.district_tokens(me.district_id)
    except CleverBadRequest as exc:
        _record_error(rt, nonce, f"Clever refused the authorization code: {exc.message}")
        raise ConnectFailed(str(exc)) from None
    if not tokens:
        _record_error(rt, nonce, "Clever lists no token for this district; is the app installed?")
        raise ConnectFailed("no district token")
    token = tokens[0]
    with rt.engine.begin() as conn:
        previous = connections.get_district(conn, me.district_id, for_update=True)
        connections.save_connection(
            conn,
            me.district_id,
            name=previous["name"] if previous else None,
            token_ciphertext=rt.keyring.encrypt(token.access_token),
            token_id=token.id,
            scopes=list(token.scopes),
            authorized_by=me.user_id,
        )
        conn.execute(
            update(oauth_states).where(oauth_states.c.nonce == nonce).values(district_id=me.district_id)
        )
        conn.execute(
            audit_log.insert().values(
                district_id=me.district_id,
                actor=f"clever:{me.user_id}",
                action="district.reconnected" if previous else "district.connected",
                details={"scopes": list(token.scopes)},
            )
        )
    kind = "reconnect" if previous is not None and previous["status"] == "disconnected" else "full"
    ticket = request_sync(rt, me.district_id, kind=kind, requested_by="connect")
    log.info("district.connected", district_id=me.district_id, run_id=ticket.run_id, kind=kind)
    return me.district_id


def _connected_district(rt: Runtime, nonce: str) -> str | None:
    with rt.engine.connect() as conn:
        query = select(oauth_states.c.district_id).where(oauth_states.c.nonce == nonce)
        return conn.execute(query).scalar()


def _record_error(rt: Runtime, nonce: str, message: str) -> None:
    with rt.engine.begin() as conn:
        conn.execute(update(oauth_states).where(oauth_states.c.nonce == nonce).values(error=message))
    log.warning("district.connect_failed", reason=message)
