"""What a principal may reach: operators every district, a district admin only the connections
their tenant owns. Every admin route finds its objects through these functions, so another
tenant's district, run, staff member, receipt or audit row is simply not found (404): its
existence does not leak.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, RowMapping, select, true

from gateway.errors import not_found
from gateway.identity import Principal
from storage import connections, runs
from storage.tables import districts


def can_reach(principal: Principal, tenant_id: str | None) -> bool:
    """An unowned connection (made before tenants existed) is for operators only."""
    return principal.is_operator or (tenant_id is not None and tenant_id == principal.tenant)


def tenant_scope(principal: Principal) -> str | None:
    """The tenant to filter by, or None: an operator sees every tenant."""
    return None if principal.is_operator else principal.tenant


def district_for(
    principal: Principal, conn: Connection, district_id: str, *, for_update: bool = False
) -> RowMapping:
    """The district, if this principal may reach it; a 404 otherwise (unknown or another tenant's)."""
    district = connections.get_district(conn, district_id, for_update=for_update)
    if district is None or not can_reach(principal, district["tenant_id"]):
        raise not_found("district")
    return district


def check_district_filter(principal: Principal, conn: Connection, district_id: str | None) -> None:
    """A listing narrowed by a query-string `district_id`: a district admin naming another
    tenant's district (or none that exists) gets 404, as on every route that names it in the
    path, rather than an empty list. An operator may name a district that is gone (purged): its
    failed messages and audit rows outlive it."""
    if district_id is not None and not principal.is_operator:
        district_for(principal, conn, district_id)


def run_for(principal: Principal, conn: Connection, run_id: str) -> RowMapping:
    run = runs.get_run(conn, run_id)
    if run is None or not can_reach(principal, connections.tenant_of(conn, run["district_id"])):
        raise not_found("run")
    return run


def reachable_districts(principal: Principal, conn: Connection) -> list[RowMapping]:
    return connections.list_districts(conn, tenant_id=tenant_scope(principal))


def district_condition(principal: Principal, column: ColumnElement[str]) -> ColumnElement[bool]:
    """A WHERE clause limiting `column` (a district id) to reachable districts, for listings
    of other tables (staff by Clever id, failed messages, audit rows)."""
    tenant = tenant_scope(principal)
    if tenant is None:
        return true()
    return column.in_(select(districts.c.id).where(districts.c.tenant_id == tenant))
