"""Finish "Connect via Clever": exchange the code, find the district token, store it, sync.

Runs in the connect actor, not the gateway: Clever's codes live a minute and the exchange
talks to Clever, which the gateway never does. The code arrives encrypted with the token
keyring, so it never sits in RabbitMQ in plaintext.

Crash-safe: the code is single-use, so the district and user Clever named for it are recorded
on the attempt right after the exchange. A redelivered message then skips the exchange and
finishes from Clever's token listing, the source of truth for district tokens.
"""

from __future__ import annotations

from typing import Any, NoReturn

import structlog
from sqlalchemy import RowMapping, select, update

from clever_client.errors import CleverBadRequest
from clever_client.oauth import DistrictToken, private_scopes
from rostersync.runtime import Runtime
from services.sync_requests import SyncRefused, request_sync
from storage import connections, read_models
from storage.tables import oauth_states

log = structlog.get_logger(__name__)

OWNED_ELSEWHERE = (
    "This Clever district is already connected to another VenueOS account; "
    "its administrators must disconnect it there first."
)


class ConnectFailed(Exception):
    """Clever refused the connection, or it is not ours to make; recorded, never retried."""


class _OwnedElsewhere(Exception):
    """Raised inside the saving transaction so that it rolls back: no token is stored."""


def connect_district(
    rt: Runtime,
    *,
    nonce: str,
    redirect_uri: str,
    code_ciphertext: str | None = None,
    code: str | None = None,  # plaintext: messages queued by an older release
    tenant_id: str | None = None,
    actor: str | None = None,
) -> str:
    """Returns the connected district id."""
    attempt = _attempt(rt, nonce)
    if attempt is None:
        raise ConnectFailed("unknown connection attempt")
    if attempt["error"]:
        raise ConnectFailed(attempt["error"])
    if attempt["district_id"] is not None:
        # Redelivered after the connection was saved: only the sync may be left.
        try:
            _start_sync(rt, nonce, attempt["district_id"], "full")
        except SyncRefused as exc:
            log.info("connect.sync_refused", district_id=attempt["district_id"], reason=str(exc))
        return str(attempt["district_id"])
    tenant = tenant_id or attempt["tenant_id"]
    district_id, user_id = attempt["exchanged_district_id"], attempt["authorized_by"]
    if district_id is None:
        secret = rt.keyring.decrypt(code_ciphertext) if code_ciphertext else code
        if not secret:
            _fail(rt, nonce, "The connect message carries no authorization code.")
        district_id, user_id = _exchange(rt, nonce, str(secret), redirect_uri)
    with rt.oauth() as oauth:
        tokens = oauth.district_tokens(district_id)
    if not tokens:
        _fail(rt, nonce, "Clever lists no token for this district; is the app installed?")
    token = tokens[0]
    extra = private_scopes(list(token.scopes))
    if extra:
        # Granted but never used: the sync still drops student data wherever it appears.
        log.warning("clever.overshared_scopes", district_id=district_id, scopes=extra)
    try:
        previous = _save(rt, nonce, district_id, user_id, token, tenant, actor)
    except _OwnedElsewhere:
        _fail(rt, nonce, OWNED_ELSEWHERE, district_id=district_id)
    kind = "reconnect" if previous is not None and previous["status"] == "disconnected" else "full"
    _start_sync(rt, nonce, district_id, kind)
    return district_id


def _save(
    rt: Runtime,
    nonce: str,
    district_id: str,
    user_id: str | None,
    token: DistrictToken,
    tenant: str | None,
    actor: str | None,
) -> RowMapping | None:
    """Store the token and the owner in one transaction; the district as it was before, if any."""
    with rt.engine.begin() as conn:
        previous = connections.get_district(conn, district_id, for_update=True)
        if previous is not None and tenant and previous["tenant_id"] not in (None, tenant):
            raise _OwnedElsewhere(district_id)
        connections.save_connection(
            conn,
            district_id,
            name=previous["name"] if previous else None,
            token_ciphertext=rt.keyring.encrypt(token.access_token),
            token_id=token.id,
            scopes=list(token.scopes),
            authorized_by=user_id,
        )
        if tenant:
            connections.assign_tenant(conn, district_id, tenant)
        conn.execute(
            update(oauth_states).where(oauth_states.c.nonce == nonce).values(district_id=district_id)
        )
        read_models.record_audit(
            conn,
            district_id=district_id,
            actor=actor or f"clever:{user_id}",
            action="district.reconnected" if previous else "district.connected",
            subject=district_id,
            details={"scopes": list(token.scopes), "clever_user": user_id},
        )
    return previous


def _exchange(rt: Runtime, nonce: str, code: str, redirect_uri: str) -> tuple[str, str]:
    try:
        with rt.oauth() as oauth:
            me = oauth.me(oauth.exchange_code(code, redirect_uri))
    except CleverBadRequest as exc:
        # A spent code with nothing recorded: the exchange never completed here, so start again.
        _fail(rt, nonce, f"Clever refused the authorization code: {exc.message}")
    with rt.engine.begin() as conn:
        conn.execute(
            update(oauth_states)
            .where(oauth_states.c.nonce == nonce)
            .values(exchanged_district_id=me.district_id, authorized_by=me.user_id)
        )
    log.info("connect.exchanged", district_id=me.district_id)
    return me.district_id, me.user_id


def _start_sync(rt: Runtime, nonce: str, district_id: str, kind: str) -> None:
    # A run already in progress is returned instead of a new one, so a redelivery starts nothing twice.
    # Connecting again is the admin's decision on a held run: the new full sync replaces it.
    ticket = request_sync(rt, district_id, kind=kind, requested_by="connect", supersede_held=True)
    with rt.engine.begin() as conn:
        conn.execute(update(oauth_states).where(oauth_states.c.nonce == nonce).values(run_id=ticket.run_id))
    log.info("district.connected", district_id=district_id, run_id=ticket.run_id, kind=kind)


def _attempt(rt: Runtime, nonce: str) -> RowMapping | None:
    with rt.engine.connect() as conn:
        row = conn.execute(select(oauth_states).where(oauth_states.c.nonce == nonce)).first()
    return row._mapping if row else None


def _fail(rt: Runtime, nonce: str, message: str, **fields: Any) -> NoReturn:
    with rt.engine.begin() as conn:
        conn.execute(update(oauth_states).where(oauth_states.c.nonce == nonce).values(error=message))
    log.warning("district.connect_failed", reason=message, **fields)
    raise ConnectFailed(message)
