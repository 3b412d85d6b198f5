"""Raw write limit: the rows the product stored, upserted again straight into PostgreSQL with
batched `INSERT ... ON CONFLICT` on one connection (no broker, no mapping) into scratch tables."""

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
    """Rows of a district as the product stored them: {table: (columns, [tuples])}."""
    found: dict[str, Any] = {}
    with psycopg.connect(_plain_url(url)) as conn:
        for table in tables:
            cur = conn.execute(
                sql.SQL("SELECT * FROM {} WHERE district_id = %s").format(sql.Identifier(table)),
                (district_id,),
            )
            names = [d.name for d in cur.description or ()]
            keep = [i for i, n in enumerate(names) if n not in SKIPPED]
            rows = [tuple(_adapt(row[i]) for i in keep) for row in cur]
            found[table] = ([names[i] for i in keep], rows)
    return found


def _adapt(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


def _upsert(table: str, columns: list[str], count: int) -> str:
    """One multi-row statement with PostgreSQL's own $n placeholders: a RawCursor sends it as is,
    so the figure is not the client re-parsing thousands of %s placeholders per batch."""
    width = len(columns)
    rows = ", ".join(
        "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(count)
    )
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in ("district_id", "clever_id"))
    target = f'"{SCHEMA}"."{table}"'
    return (
        f"INSERT INTO {target} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) VALUES {rows} "
        f"ON CONFLICT (district_id, clever_id) DO UPDATE SET {updates} "
        f"WHERE {target}.content_hash IS DISTINCT FROM EXCLUDED.content_hash"
    )


def _pass(conn: psycopg.Connection[Any], rows_by_table: dict[str, Any], batch: int) -> tuple[float, int]:
    """Upsert every row once, one transaction per batch; returns (seconds, batches)."""
    batches = 0
    started = time.perf_counter()
    with psycopg.RawCursor(conn) as cur:
        for table, (columns, rows) in rows_by_table.items():
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                with conn.transaction():
                    cur.execute(_upsert(table, columns, len(chunk)), [v for row in chunk for v in row])
                batches += 1
    return time.perf_counter() - started, batches


def measure(url: str, district_id: str, *, batch: int = 1_000) -> dict[str, Any]:
    """Insert pass (empty scratch tables, like an initial sync) and an unchanged pass (like a
    reconcile that finds nothing new)."""
    rows_by_table = load_rows(url, district_id)
    total = sum(len(rows) for _, rows in rows_by_table.values())
    with psycopg.connect(_plain_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        for table in rows_by_table:
            conn.execute(
                sql.SQL("CREATE TABLE {}.{} (LIKE public.{} INCLUDING ALL)").format(
                    sql.Identifier(SCHEMA), sql.Identifier(table), sql.Identifier(table)
                )
            )
        try:
            insert_s, batches = _pass(conn, rows_by_table, batch)
            unchanged_s, _ = _pass(conn, rows_by_table, batch)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    return {
        "rows": total,
        "rows_by_table": {t: len(r) for t, (_, r) in rows_by_table.items()},
        "batch_rows": batch,
        "transactions": batches,
        "insert_seconds": round(insert_s, 3),
        "insert_rows_per_s": rate(total, insert_s),
        "unchanged_seconds": round(unchanged_s, 3),
        "unchanged_rows_per_s": rate(total, unchanged_s),
    }
