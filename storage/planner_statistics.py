"""Fresh planner statistics for a table a sync has just filled.

A district's first sync is a bulk load: hundreds of thousands of rows where PostgreSQL's
statistics knew of none. Autovacuum analyzes the table when it next wakes (within a minute by
default), and until then the planner guesses: a sync or an admin's page in that window may get
a plan made for an empty table. PostgreSQL's manual advises running ANALYZE after a bulk load
("Populating a Database"), so a run that changed more than a tenth of what the statistics
counted does so before it ends.
"""

from __future__ import annotations

from psycopg.errors import LockNotAvailable
from sqlalchemy import Connection, Table, bindparam, text
from sqlalchemy.exc import OperationalError

# Below this many rows autovacuum's own threshold (50 rows plus a tenth of the table) takes
# care of the table soon enough, and the plans for so few rows barely differ.
BULK_ROWS = 1_000
# The share of the counted rows a run must change to make the statistics stale.
STALE_SHARE = 0.1

_COUNTED_ROWS = text("SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)").bindparams(
    bindparam("table")
)


def analyze_after_bulk_change(conn: Connection, table: Table, rows_changed: int) -> bool:
    """ANALYZE `table` when `rows_changed` makes its statistics stale; True when it did.

    It runs in the caller's transaction (at a run's end, the finish's, which holds the
    district's lock), and the lock ANALYZE takes is kept until that commits: meanwhile
    autovacuum and other finishes leave the table alone. A table they hold is not waited for
    either: skipped (False), its statistics left to whoever is vacuuming or analyzing it.

    PostgreSQL only: SQLite's planner has no statistics until asked, and the embedded
    deployment's tables are small."""
    if conn.dialect.name != "postgresql" or rows_changed < BULK_ROWS:
        return False
    quoted = conn.dialect.identifier_preparer.format_table(table)
    counted = conn.execute(_COUNTED_ROWS, {"table": quoted}).scalar_one()
    # -1 until the table was first analyzed or vacuumed
    if rows_changed <= STALE_SHARE * max(float(counted), 0.0):
        return False
    try:
        with conn.begin_nested():  # a refused lock undoes only this
            conn.execute(text(f"LOCK TABLE {quoted} IN SHARE UPDATE EXCLUSIVE MODE NOWAIT"))
    except OperationalError as exc:
        if not isinstance(exc.orig, LockNotAvailable):
            raise
        return False
    conn.execute(text(f"ANALYZE {quoted}"))  # under the lock this transaction now holds
    return True
