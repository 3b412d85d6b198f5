"""The shared services: a fresh PostgreSQL database per bench run, queue clean-up on RabbitMQ,
and the machine description that goes into the results."""

from __future__ import annotations

import os
import platform
import subprocess
import uuid
from collections.abc import Iterable

import pika
import psutil
from sqlalchemy import Engine, create_engine, text

from messaging import queues
from storage.database import normalize_url
from storage.migrate import upgrade
from storage.tables import metadata

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
ENTITY_TABLES = ("tenants", "staff_users", "classrooms", "terms", "courses")


def new_tag() -> str:
    return uuid.uuid4().hex[:8]


def database_url(admin_url: str, name: str) -> str:
    return normalize_url(admin_url).rsplit("/", 1)[0] + "/" + name


def create_database(admin_url: str, name: str) -> str:
    """Create and migrate a database of this run only; returns its URL."""
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = database_url(admin_url, name)
    upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(engine: Engine) -> None:
    """Empty every product table (schema stays), so each scenario starts from nothing."""
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def delete_queues(broker_url: str, prefix: str, extra: Iterable[str] = ()) -> None:
    """Remove every queue this run declared (with Dramatiq's delay and dead-letter queues)."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    for kind in (*queues.ALL, *extra):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(queue=f"{prefix}{kind}{suffix}")
    connection.close()


def table_writes(engine: Engine, tables: Iterable[str]) -> dict[str, dict[str, int]]:
    """Cumulative inserted/updated/deleted tuples per table (pg_stat_user_tables)."""
    names = list(tables)
    query = text(
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
        "WHERE schemaname = 'public' AND relname = ANY(:names)"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"names": names}).all()
    return {r.relname: {"ins": r.n_tup_ins, "upd": r.n_tup_upd, "del": r.n_tup_del} for r in rows}


def writes_delta(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    return {name: {k: after[name][k] - before.get(name, {}).get(k, 0) for k in after[name]} for name in after}


def machine(engine: Engine, broker_url: str) -> dict[str, object]:
    """CPU, memory and the versions of the services the figures depend on."""
    with engine.connect() as conn:
        pg_version = conn.execute(text("SHOW server_version")).scalar_one()
        sync_commit = conn.execute(text("SHOW synchronous_commit")).scalar_one()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": psutil.virtual_memory().total // (1024 * 1024),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "postgresql_synchronous_commit": sync_commit,
        "rabbitmq": _rabbitmq_version(broker_url),
        "load_average_1m_at_start": load_average(),
    }


def load_average() -> float:
    """Other work on the machine shares the same 2 cores; the figures are read against this."""
    return round(os.getloadavg()[0], 2)


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _rabbitmq_version(broker_url: str) -> str | None:
    # The server announces its version in the AMQP handshake; rabbitmqctl is the fallback.
    try:
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        props = connection._impl.server_properties
        connection.close()
        version = props.get("version")
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:
        pass
    try:
        out = subprocess.run(["rabbitmqctl", "version"], capture_output=True, text=True, timeout=20)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None
