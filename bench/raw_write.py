"""Raw write limit: the rows the product stored, upserted again straight into PostgreSQL on one
connection (no broker, no mapping) into scratch tables, two ways per batch: a multi-row
`INSERT ... ON CONFLICT`, and PostgreSQL's fastest path, COPY into a temporary table followed by
one `INSERT ... SELECT ... ON CONFLICT`. The faster of the two is the ceiling."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bench.infra import ENTITY_TABLES
from bench.stats import rate

SCHEMA = "bench_raw"
SKIPPED = ("id", "created_at")  # filled by defaults, as in the product's inserts


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def load_rows(url: str, district_id: str, tables: Iterable[str] = ENTITY_TABLES) -> dict[str, Any]:
    """Rows of a district as the product stored them: {table: (columns, [tuples], [type oids])}."""
    found: dict[str, Any] = {}
    with psycopg.connect(_plain_url(url)) as conn:
        for table in tables:
            cur = conn.execute(
                sql.SQL("SELECT * FROM {} WHERE district_id = %s").format(sql.Identifier(table)),
                (district_id,),
            )
            names = [d.name for d in cur.description or ()]
            keep = [i for i, n in enumerate(names) if n not in SKIPPED]
            types = [d.type_code for d in cur.description or ()]
            rows = [tuple(_adapt(row[i]) for i in keep) for row in cur]
            found[table] = ([names[i] for i in keep], rows, [types[i] for i in keep])
    return found


def _adapt(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _conflict(target: str, columns: list[str]) -> str:
    """What both ways do on a conflict: rewrite only a row whose content changed."""
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in ("district_id", "clever_id"))
    return (
        f"ON CONFLICT (district_id, clever_id) DO UPDATE SET {updates} "
        f"WHERE {target}.content_hash IS DISTINCT FROM EXCLUDED.content_hash"
    )


def _upsert(table: str, columns: list[str], count: int) -> str:
    """One multi-row statement with PostgreSQL's own $n placeholders: a RawCursor sends it as is,
    so the figure is not the client re-parsing thousands of %s placeholders per batch."""
    width = len(columns)
    rows = ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(count)
    )
    target = f'"{SCHEMA}"."{table}"'
    return f"INSERT INTO {target} ({_quoted(columns)}) VALUES {rows} {_conflict(target, columns)}"


def _stage(table: str) -> str:
    return f'"stage_{table}"'


def _merge(table: str, columns: list[str]) -> str:
    target = f'"{SCHEMA}"."{table}"'
    names = _quoted(columns)
    return f"INSERT INTO {target} ({names}) SELECT {names} FROM {_stage(table)} {_conflict(target, columns)}"


def _pass(conn: psycopg.Connection[Any], rows_by_table: dict[str, Any], batch: int) -> tuple[float, int]:
    """Upsert every row once, one transaction per batch; returns (seconds, batches)."""
    batches = 0
    started = time.perf_counter()
    with psycopg.RawCursor(conn) as cur:
        for table, (columns, rows, _) in rows_by_table.items():
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                with conn.transaction():
                    cur.execute(_upsert(table, columns, len(chunk)), [v for row in chunk for v in row])
                batches += 1
    return time.perf_counter() - started, batches


def _copy_pass(conn: psycopg.Connection[Any], rows_by_table: dict[str, Any], batch: int) -> float:
    """The same batches through COPY (binary) into a temporary table emptied at each commit,
    then one `INSERT ... SELECT ... ON CONFLICT` per batch; returns seconds."""
    started = time.perf_counter()
    for table, (columns, rows, types) in rows_by_table.items():
        copy_sql = f"COPY {_stage(table)} ({_quoted(columns)}) FROM STDIN (FORMAT BINARY)"
        merge = _merge(table, columns)
        for start in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(copy_sql) as copy:
                    copy.set_types(types)
                    for row in rows[start : start + batch]:
                        copy.write_row(row)
                cur.execute(merge, prepare=True)
    return time.perf_counter() - started


def _create_stages(conn: psycopg.Connection[Any], tables: Iterable[str]) -> None:
    for table in tables:
        conn.execute(
            f"CREATE TEMPORARY TABLE {_stage(table)} "
            f'(LIKE "{SCHEMA}"."{table}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
        )


def _recreate_schema(conn: psycopg.Connection[Any], tables: Iterable[str]) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    for table in tables:
        conn.execute(
            sql.SQL("CREATE TABLE {}.{} (LIKE public.{} INCLUDING ALL)").format(
                sql.Identifier(SCHEMA), sql.Identifier(table), sql.Identifier(table)
            )
        )


def measure(url: str, district_id: str, *, batch: int = 1_000) -> dict[str, Any]:
    """Insert pass (empty scratch tables, like an initial sync) and an unchanged pass (like a
    reconcile that finds nothing new)."""
    rows_by_table = load_rows(url, district_id)
    total = sum(len(rows) for _, rows, _ in rows_by_table.values())
    with psycopg.connect(_plain_url(url), autocommit=True) as conn:
        try:
            _recreate_schema(conn, rows_by_table)
            insert_s, batches = _pass(conn, rows_by_table, batch)
            unchanged_s, _ = _pass(conn, rows_by_table, batch)
            # From empty scratch tables again, so the COPY passes do the same work.
            _recreate_schema(conn, rows_by_table)
            _create_stages(conn, rows_by_table)
            copy_insert_s = _copy_pass(conn, rows_by_table, batch)
            copy_unchanged_s = _copy_pass(conn, rows_by_table, batch)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    ceiling_s = min(insert_s, copy_insert_s)
    return {
        "rows": total,
        "rows_by_table": {t: len(r) for t, (_, r, _) in rows_by_table.items()},
        "batch_rows": batch,
        "transactions": batches,
        "insert_seconds": round(insert_s, 3),
        "insert_rows_per_s": rate(total, insert_s),
        "unchanged_seconds": round(unchanged_s, 3),
        "unchanged_rows_per_s": rate(total, unchanged_s),
        "copy_insert_seconds": round(copy_insert_s, 3),
        "copy_insert_rows_per_s": rate(total, copy_insert_s),
        "copy_unchanged_seconds": round(copy_unchanged_s, 3),
        "copy_unchanged_rows_per_s": rate(total, copy_unchanged_s),
        # The fastest way this machine inserts these rows in batches of this size.
        "ceiling_insert_seconds": round(ceiling_s, 3),
        "ceiling_insert_rows_per_s": rate(total, ceiling_s),
    }
