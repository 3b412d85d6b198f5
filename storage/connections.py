"""District connections: status, generation, encrypted token, events cursor, options."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Text, bindparam, func, select, update

from storage.database import dialect_insert
from storage.tables import districts


def get_district(
    conn: Connection, district_id: str, *, for_update: bool = False, for_share: bool = False
) -> RowMapping | None:
    """`for_share` in a writer's transaction makes a disconnect or purge wait for it to commit.

    It takes a shared advisory lock rather than a row lock: thousands of concurrent event
    transactions sharing a row lock would each rewrite the district row's lock information.
    """
    postgresql = conn.dialect.name == "postgresql"
    if postgresql and (for_update or for_share):
        # A statement of its own: the read below must see what a disconnect we waited for wrote.
        conn.execute(_district_lock(exclusive=for_update), {"lock_key": f"district:{district_id}"})
    query = _district_row(for_update=postgresql and for_update)
    row = conn.execute(query, {"district_id": district_id}).first()
    return row._mapping if row else None


# Built once: every page and event batch reads its district, and building and keying a
# statement costs more than running it.
@functools.cache
def _district_lock(*, exclusive: bool) -> Any:
    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    return select(lock(func.hashtextextended(bindparam("lock_key", type_=Text), 0)))


@functools.cache
def _district_row(*, for_update: bool) -> Any:
    query = select(districts).where(districts.c.id == bindparam("district_id"))
    return query.with_for_update() if for_update else query


def list_districts(
    conn: Connection, *, status: str | None = None, tenant_id: str | None = None
) -> list[RowMapping]:
    """Every connection, or one tenant's (`tenant_id`), optionally in one status."""
    query = select(districts).order_by(districts.c.id)
    if status is not None:
        query = query.where(districts.c.status == status)
    if tenant_id is not None:
        query = query.where(districts.c.tenant_id == tenant_id)
    return [row._mapping for row in conn.execute(query)]


class OwnedByAnotherTenant(Exception):
    """The Clever district is connected by another VenueOS tenant."""


def tenant_of(conn: Connection, district_id: str) -> str | None:
    """The tenant that owns a connection (None: no such district, or not owned yet)."""
    return conn.execute(select(districts.c.tenant_id).where(districts.c.id == district_id)).scalar()


def assign_tenant(conn: Connection, district_id: str, tenant_id: str) -> None:
    """Make `tenant_id` the owner of a connection nobody owns; the same owner again is a no-op.

    Raises OwnedByAnotherTenant when another tenant owns it. Call it in the transaction that
    saves the connection, after `get_district(..., for_update=True)`, so two tenants racing for
    one Clever district cannot both win.
    """
    current = tenant_of(conn, district_id)
    if current is not None and current != tenant_id:
        raise OwnedByAnotherTenant(district_id)
    if current is None:
        conn.execute(update(districts).where(districts.c.id == district_id).values(tenant_id=tenant_id))


def save_connection(
    conn: Connection,
    district_id: str,
    *,
    name: str | None,
    token_ciphertext: str,
    token_id: str | None,
    scopes: list[str],
    authorized_by: str | None,
) -> RowMapping:
    """Create the connection, or reconnect an existing one; never a second row per district."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": district_id,
        "name": name,
        "status": "active",
        "token_ciphertext": token_ciphertext,
        "token_id": token_id,
        "scopes": scopes,
        "authorized_by": authorized_by,
        "connected_at": now,
        "disconnected_at": None,
        "updated_at": now,
    }
    insert = dialect_insert(conn)
    stmt = insert(districts).values(**values, generation=1)
    update_values = {k: stmt.excluded[k] for k in values if k not in ("id", "name")}
    update_values["name"] = stmt.excluded.name
    conn.execute(stmt.on_conflict_do_update(index_elements=[districts.c.id], set_=update_values))
    row = get_district(conn, district_id)
    assert row is not None
    return row


def set_status(conn: Connection, district_id: str, status: str, **values: Any) -> None:
    conn.execute(
        update(districts)
        .where(districts.c.id == district_id)
        .values(status=status, updated_at=datetime.now(UTC), **values)
    )


def update_district(conn: Connection, district_id: str, **values: Any) -> None:
    conn.execute(
        update(districts).where(districts.c.id == district_id).values(updated_at=datetime.now(UTC), **values)
    )


def replace_token(conn: Connection, district_id: str, token_ciphertext: str, token_id: str | None) -> None:
    update_district(conn, district_id, token_ciphertext=token_ciphertext, token_id=token_id)


def disconnect(conn: Connection, district_id: str) -> int:
    """Erase the token and move the generation on; returns the new generation."""
    row = get_district(conn, district_id, for_update=True)
    if row is None:
        raise LookupError(district_id)
    generation = int(row["generation"]) + 1
    update_district(
        conn,
        district_id,
        status="disconnected",
        token_ciphertext=None,
        token_id=None,
        generation=generation,
        disconnected_at=datetime.now(UTC),
        current_run_id=None,
    )
    return generation
