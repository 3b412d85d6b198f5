"""Liveness (the process answers) and readiness: the database answers, the broker accepts a
connection, and the schema is at the newest migration this release ships. A 503 names what failed."""

from __future__ import annotations

from collections.abc import Callable

import pika
import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.errors import RETRY_AFTER_SECONDS
from messaging.broker import connection_parameters
from rostersync.runtime import Runtime
from storage.migrate import current_revision, head_revision
from storage.read_models import ping

log = structlog.get_logger(__name__)

Check = Callable[[], str | None]  # None when fine, else what is wrong


def database_checks(rt: Runtime, head: str | None) -> tuple[Check, Check]:
    def database() -> str | None:
        try:
            with rt.engine.connect() as conn:
                ping(conn)
        except SQLAlchemyError as exc:
            log.warning("gateway.not_ready", check="database", error_type=type(exc).__name__)
            return "database unreachable"
        return None

    def schema() -> str | None:
        try:
            with rt.engine.connect() as conn:
                current = current_revision(conn)
        except SQLAlchemyError:
            return "database unreachable"
        if current != head:
            return (
                f"schema at migration {current or 'none'}, this release needs {head} (rostersync db upgrade)"
            )
        return None

    return database, schema


def broker_check(broker_url: str | None) -> Check:
    def broker() -> str | None:
        if broker_url is None:
            return None  # the in-process broker is up while the process is
        try:
            settings = {**connection_parameters(broker_url, attempts=1), "socket_timeout": 3}
            pika.BlockingConnection(pika.ConnectionParameters(**settings)).close()
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("gateway.not_ready", check="broker", error_type=type(exc).__name__)
            return "message broker unreachable"
        return None

    return broker


def routes(rt: Runtime) -> list[Route]:
    database, schema = database_checks(rt, head_revision())
    broker = broker_check(rt.settings.broker_url)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def run_checks() -> dict[str, str | None]:
        failed = {"database": database(), "broker": broker()}
        # The schema cannot be read without the database; its failure is reported once.
        failed["schema"] = schema() if failed["database"] is None else None
        return failed

    async def readyz(request: Request) -> Response:
        failed = await run_in_threadpool(run_checks)
        reasons = [reason for reason in failed.values() if reason]
        report = {name: reason or "ok" for name, reason in failed.items()}
        if failed["database"]:
            report["schema"] = "not checked"
        if not reasons:
            return JSONResponse({"status": "ready", "checks": report})
        return JSONResponse(
            {"error": "; ".join(reasons), "checks": report},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
