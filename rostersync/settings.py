"""One settings object, read from the environment once per process.

Unset DATABASE_URL and BROKER_URL mean the embedded default (a SQLite file and an in-process
broker) so the demo needs nothing installed; set them for PostgreSQL and RabbitMQ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

EMBEDDED_DATABASE_URL = "sqlite:///rostersync.sqlite3"


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = EMBEDDED_DATABASE_URL
    broker_url: str | None = None
    clever_api_base: str = "https://api.clever.com"
    clever_oauth_base: str = "https://clever.com"
    clever_client_id: str = ""
    clever_client_secret: str = field(default="", repr=False)
    public_base_url: str = "http://127.0.0.1:8000"
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    admin_tokens: tuple[str, ...] = field(default=(), repr=False)
    identity_keys: tuple[str, ...] = field(default=(), repr=False)
    identity_jwks_url: str = ""
    session_secret: str = field(default="", repr=False)
    session_ttl_seconds: float = 3600.0
    log_format: str = "auto"
    log_level: str = "INFO"
    events_poll_seconds: float = 180.0
    reconcile_local_time: str = "02:30"
    deactivation_threshold: float = 0.10
    bell_schedule_ext_field: str = "bell_schedule"
    page_limit: int = 10_000
    apply_chunk_size: int = 1_000
    webhook_max_body_bytes: int = 1_048_576
    run_stalled_after_seconds: float = 900.0
    ingest_slice_seconds: float = 1200.0
    rate_limit_handoff_seconds: float = 30.0
    retry_infra_hours: float = 24.0
    clock_skew_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        default = cls()

        def text(name: str, fallback: str) -> str:
            return env.get(name) or fallback

        return cls(
            database_url=text("DATABASE_URL", default.database_url),
            broker_url=env.get("BROKER_URL") or None,
            clever_api_base=text("CLEVER_API_BASE", default.clever_api_base).rstrip("/"),
            clever_oauth_base=text("CLEVER_OAUTH_BASE", default.clever_oauth_base).rstrip("/"),
            clever_client_id=text("CLEVER_CLIENT_ID", ""),
            clever_client_secret=text("CLEVER_CLIENT_SECRET", ""),
            public_base_url=text("PUBLIC_BASE_URL", default.public_base_url).rstrip("/"),
            webhook_secrets=_split(env.get("WEBHOOK_SECRETS")),
            encryption_keys=_split(env.get("ENCRYPTION_KEYS")),
            admin_tokens=_split(env.get("ADMIN_TOKENS")),
            identity_keys=_split(env.get("IDENTITY_KEYS")),
            identity_jwks_url=text("IDENTITY_JWKS_URL", ""),
            session_secret=text("SESSION_SECRET", ""),
            session_ttl_seconds=float(text("SESSION_TTL", str(default.session_ttl_seconds))),
            log_format=text("LOG_FORMAT", default.log_format),
            log_level=text("LOG_LEVEL", default.log_level).upper(),
            events_poll_seconds=float(text("EVENTS_POLL_SECONDS", str(default.events_poll_seconds))),
            reconcile_local_time=text("RECONCILE_LOCAL_TIME", default.reconcile_local_time),
            deactivation_threshold=float(text("DEACTIVATION_THRESHOLD", str(default.deactivation_threshold))),
            bell_schedule_ext_field=text("BELL_SCHEDULE_EXT_FIELD", default.bell_schedule_ext_field),
            page_limit=int(text("PAGE_LIMIT", str(default.page_limit))),
            apply_chunk_size=int(text("APPLY_CHUNK_SIZE", str(default.apply_chunk_size))),
            webhook_max_body_bytes=int(text("WEBHOOK_MAX_BODY_BYTES", str(default.webhook_max_body_bytes))),
            ingest_slice_seconds=float(text("INGEST_SLICE_SECONDS", str(default.ingest_slice_seconds))),
            rate_limit_handoff_seconds=float(
                text("RATE_LIMIT_HANDOFF_SECONDS", str(default.rate_limit_handoff_seconds))
            ),
            retry_infra_hours=float(text("RETRY_INFRA_HOURS", str(default.retry_infra_hours))),
            clock_skew_seconds=float(text("CLOCK_SKEW_SECONDS", str(default.clock_skew_seconds))),
            run_stalled_after_seconds=float(
                text("RUN_STALLED_AFTER_SECONDS", str(default.run_stalled_after_seconds))
            ),
        )

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    def describe_backends(self) -> dict[str, str]:
        """What start-up logs say about where data and messages go (no credentials)."""
        database = "sqlite (embedded)" if self.embedded_database else "postgresql"
        broker = "in-process (embedded)" if self.embedded_broker else "rabbitmq"
        return {"database": database, "broker": broker}
