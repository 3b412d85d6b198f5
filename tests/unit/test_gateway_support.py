"""Shared pieces for the gateway's unit tests (no tests here): a gateway on a temporary SQLite
database and an in-process StubBroker, with helpers to insert rows and read published messages."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import build_app
from gateway.webhook_signature import signature_header
from messaging import queues
from messaging.broker import make_broker
from rostersync.runtime import Runtime
from rostersync.settings import Settings
from storage.migrate import upgrade
from storage.tables import districts, staff_users, sync_runs, tenants

ADMIN_TOKEN = "admin-token-primary-0123456789"
FINGERPRINT = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()[:8]  # what the audit log records
OTHER_ADMIN_TOKEN = "admin-token-secondary-9876543210"
SECRET = "whsec-current"
OLD_SECRET = "whsec-previous"
DISTRICT = "5b2ad81a709e300001e2cd7a"
OTHER_DISTRICT = "5b2ad81a709e300001e2cd7b"
EPOCH = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)


class Harness:
    """One gateway, its runtime, its stub broker and a client."""

    def __init__(self, rt: Runtime, broker: StubBroker, client: TestClient) -> None:
        self.rt = rt
        self.broker = broker
        self.client = client

    @classmethod
    @contextmanager
    def open(cls, tmp_path: Path, **overrides: Any) -> Iterator[Harness]:
        url = f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
        upgrade(url)
        settings = Settings(
            database_url=url,
            clever_client_id="client-abc",
            clever_oauth_base="https://clever.example.test",
            public_base_url="https://sync.example.test",
            webhook_secrets=(SECRET, OLD_SECRET),
            admin_tokens=(ADMIN_TOKEN, OTHER_ADMIN_TOKEN),
            webhook_max_body_bytes=8192,
        )
        settings = replace(settings, **overrides)
        broker = make_broker(None)
        assert isinstance(broker, StubBroker)
        rt = Runtime(settings, broker=broker)
        with TestClient(build_app(rt), follow_redirects=False) as client:
            yield cls(rt, broker, client)
        broker.close()
        rt.engine.dispose()

    # --- the broker -------------------------------------------------------------------------
    def messages(self, kind: str) -> list[dramatiq.Message]:
        name = queues.queue_name(kind)
        if name not in self.broker.queues:
            return []
        return [dramatiq.Message.decode(data) for data in list(self.broker.queues[name].queue)]

    def all_messages(self) -> list[dramatiq.Message]:
        return [dramatiq.Message.decode(d) for q in self.broker.queues.values() for d in list(q.queue)]

    def break_broker(self) -> None:
        def refuse(message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
            raise dramatiq.errors.ConnectionClosed(OSError("connection refused"))

        self.broker.enqueue = refuse  # type: ignore[method-assign]

    # --- requests ---------------------------------------------------------------------------
    def admin(self, token: str = ADMIN_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def post_webhook(
        self,
        body: Any,
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        content = raw if raw is not None else json.dumps(body).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        sent = {
            "Content-Type": "application/json",
            "Clever-Signature": signature_header(secret, stamp, content),
            **(headers or {}),
        }
        return self.client.post("/webhooks/clever", content=content, headers=sent)

    # --- rows -------------------------------------------------------------------------------
    def add_district(self, district_id: str = DISTRICT, *, status: str = "active", **values: Any) -> None:
        with self.rt.engine.begin() as conn:
            conn.execute(
                districts.insert().values(
                    id=district_id,
                    name=f"District {district_id[-2:]}",
                    status=status,
                    token_ciphertext=self.rt.keyring.encrypt("district-token-secret"),
                    token_id="tok-1",
                    scopes=["read:district_admins", "read:teachers"],
                    **values,
                )
            )

    def add_school(self, clever_id: str, district_id: str = DISTRICT, **values: Any) -> None:
        with self.rt.engine.begin() as conn:
            conn.execute(
                tenants.insert().values(
                    district_id=district_id,
                    clever_id=clever_id,
                    source_position="p1",
                    kind="school",
                    parent_clever_id=district_id,
                    name=f"School {clever_id}",
                    **values,
                )
            )

    def add_staff(self, clever_id: str, district_id: str = DISTRICT, **values: Any) -> None:
        row = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"{clever_id}@example.test",
            "clever_roles": ["teacher"],
            "titles": ["Teacher"],
            "school_clever_ids": ["s1"],
            "synced_role": "CONTRIBUTOR",
            "role_reason": "Clever role teacher",
            **values,
        }
        with self.rt.engine.begin() as conn:
            conn.execute(
                staff_users.insert().values(
                    district_id=district_id, clever_id=clever_id, source_position="p1", **row
                )
            )

    def add_run(
        self,
        run_id: str,
        district_id: str = DISTRICT,
        *,
        status: str = "succeeded",
        minutes: int = 0,
        **values: Any,
    ) -> None:
        queued = EPOCH + timedelta(minutes=minutes)
        with self.rt.engine.begin() as conn:
            conn.execute(
                sync_runs.insert().values(
                    id=run_id,
                    district_id=district_id,
                    kind="full",
                    status=status,
                    generation=1,
                    queued_at=queued,
                    **values,
                )
            )

    def staff_row(self, clever_id: str) -> Any:
        with self.rt.engine.connect() as conn:
            return conn.execute(select(staff_users).where(staff_users.c.clever_id == clever_id)).one()
