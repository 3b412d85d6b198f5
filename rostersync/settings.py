"""One settings object, read from the environment and checked once per process.

Unset DATABASE_URL and BROKER_URL mean the embedded default (a SQLite file and an in-process
broker) so the demo needs nothing installed; set them for PostgreSQL and RabbitMQ.

The checks are written by hand rather than with a settings library: the object stays a plain
frozen dataclass that tests build directly, and each refusal says in one line which variable is
wrong, why, and what to set instead (`ConfigError`), which the command line prints as is.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

EMBEDDED_DATABASE_URL = "sqlite:///rostersync.sqlite3"
LOG_FORMATS = ("json", "console", "auto")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
IDENTITY_SECRET_MIN_LENGTH = 32  # HS256 wants at least 256 bits of key (RFC 7518)
# RabbitMQ takes back a message left unacknowledged for 30 minutes (its consumer timeout).
CONSUMER_TIMEOUT_SECONDS = 1800.0
_DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "sqlite")
_BROKER_SCHEMES = ("amqp", "amqps")
_QUEUE_PREFIX = re.compile(r"^[A-Za-z0-9._:-]{0,64}$")
_CLEVER_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ConfigError(ValueError):
    """A setting that cannot work: the variable, what is wrong with it, and how to fix it."""

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        super().__init__(f"{variable} {problem}; {fix}")
        self.variable = variable


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


# RabbitMQ's prefetch count is an unsigned 16-bit field.
MAX_PREFETCH = 65_535


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
    metrics_port: int | None = None  # workers and the scheduler serve /metrics here when set
    metrics_host: str = "0.0.0.0"
    # Where a person's browser reaches Clever's consent page, when that differs from where this
    # service's processes reach its token endpoint (empty: CLEVER_OAUTH_BASE for both).
    clever_oauth_browser_base: str = ""
    queue_type: str = "classic"  # classic or quorum (messaging.queues reads it when declaring)
    heartbeat_file: str = ""  # workers and the scheduler touch it while healthy (container checks)
    worker_prefetch: int = 0  # messages a worker holds per queue; 0: Dramatiq's twice its threads

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of this process; raises ConfigError for the first value that cannot work."""
        env = os.environ if env is None else env
        default = cls()
        read = _Reader(env)
        settings = cls(
            database_url=read.database_url("DATABASE_URL", default.database_url),
            broker_url=read.broker_url("BROKER_URL"),
            clever_api_base=read.http_url("CLEVER_API_BASE", default.clever_api_base),
            clever_oauth_base=read.http_url("CLEVER_OAUTH_BASE", default.clever_oauth_base),
            clever_client_id=read.text("CLEVER_CLIENT_ID", ""),
            clever_client_secret=read.text("CLEVER_CLIENT_SECRET", ""),
            public_base_url=read.http_url("PUBLIC_BASE_URL", default.public_base_url),
            webhook_secrets=read.webhook_secrets("WEBHOOK_SECRETS"),
            encryption_keys=read.encryption_keys("ENCRYPTION_KEYS"),
            admin_tokens=_split(env.get("ADMIN_TOKENS")),
            identity_keys=read.identity_keys("IDENTITY_KEYS"),
            identity_jwks_url=read.http_url("IDENTITY_JWKS_URL", "") if env.get("IDENTITY_JWKS_URL") else "",
            session_secret=read.text("SESSION_SECRET", ""),
            session_ttl_seconds=read.number("SESSION_TTL", default.session_ttl_seconds, low=1),
            log_format=read.choice("LOG_FORMAT", default.log_format, LOG_FORMATS, str.lower),
            log_level=read.choice("LOG_LEVEL", default.log_level, LOG_LEVELS, str.upper),
            events_poll_seconds=read.number("EVENTS_POLL_SECONDS", default.events_poll_seconds, low=1),
            reconcile_local_time=read.local_time("RECONCILE_LOCAL_TIME", default.reconcile_local_time),
            deactivation_threshold=read.number(
                "DEACTIVATION_THRESHOLD", default.deactivation_threshold, low=0, high=1
            ),
            bell_schedule_ext_field=read.text("BELL_SCHEDULE_EXT_FIELD", default.bell_schedule_ext_field),
            page_limit=read.whole("PAGE_LIMIT", default.page_limit, low=1, high=10_000),
            apply_chunk_size=read.whole("APPLY_CHUNK_SIZE", default.apply_chunk_size, low=1, high=100_000),
            webhook_max_body_bytes=read.whole(
                "WEBHOOK_MAX_BODY_BYTES", default.webhook_max_body_bytes, low=1024, high=1 << 30
            ),
            ingest_slice_seconds=read.number(
                "INGEST_SLICE_SECONDS",
                default.ingest_slice_seconds,
                low=1,
                high=CONSUMER_TIMEOUT_SECONDS - 60,
            ),
            rate_limit_handoff_seconds=read.number(
                "RATE_LIMIT_HANDOFF_SECONDS", default.rate_limit_handoff_seconds, low=0
            ),
            retry_infra_hours=read.number("RETRY_INFRA_HOURS", default.retry_infra_hours, low=0.001),
            clock_skew_seconds=read.number("CLOCK_SKEW_SECONDS", default.clock_skew_seconds, low=0),
            run_stalled_after_seconds=read.number(
                "RUN_STALLED_AFTER_SECONDS", default.run_stalled_after_seconds, low=1
            ),
            metrics_port=read.port("METRICS_PORT"),
            metrics_host=read.text("METRICS_HOST", default.metrics_host).strip(),
            clever_oauth_browser_base=(
                read.http_url("CLEVER_OAUTH_BROWSER_BASE", "") if env.get("CLEVER_OAUTH_BROWSER_BASE") else ""
            ),
            queue_type=read.choice("QUEUE_TYPE", default.queue_type, ("classic", "quorum"), str.lower),
            heartbeat_file=read.text("HEARTBEAT_FILE", "").strip(),
            worker_prefetch=read.whole("WORKER_PREFETCH", default.worker_prefetch, low=0, high=MAX_PREFETCH),
        )
        read.queue_names()
        return settings

    def require_encryption_keys(self) -> None:
        """Processes that read or write OAuth tokens call this at start (a migration job need not)."""
        if not self.embedded_database and not self.encryption_keys:
            raise ConfigError(
                "ENCRYPTION_KEYS",
                "is required with PostgreSQL (OAuth tokens are stored encrypted)",
                "set it to key_id:key, making the key with `rostersync keys new`",
            )

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def clever_authorize_base(self) -> str:
        """Clever's OAuth base as the browser reaches it (the consent page redirect)."""
        return self.clever_oauth_browser_base or self.clever_oauth_base

    def describe_backends(self) -> dict[str, str]:
        """What start-up logs say about where data and messages go (no credentials)."""
        database = "sqlite (embedded)" if self.embedded_database else "postgresql"
        broker = "in-process (embedded)" if self.embedded_broker else "rabbitmq"
        return {"database": database, "broker": broker}


class _Reader:
    """Reads one variable at a time and raises ConfigError naming it. Secrets are never quoted."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, fallback: str) -> str:
        return self.env.get(name) or fallback

    def choice(self, name: str, fallback: str, allowed: tuple[str, ...], normal: Callable[[str], str]) -> str:
        value = normal(self.text(name, fallback).strip())
        if value not in allowed:
            raise ConfigError(name, f"is {value!r}", f"set it to one of {', '.join(allowed)}")
        return value

    def whole(self, name: str, fallback: int, *, low: int, high: int) -> int:
        raw = self.text(name, str(fallback)).strip()
        fix = f"set it to a whole number from {low} to {high} (default {fallback})"
        if not re.fullmatch(r"[0-9]+", raw):
            raise ConfigError(name, f"is {raw!r}, not a whole number", fix)
        value = int(raw)
        if not low <= value <= high:
            raise ConfigError(name, f"is {value}, out of range", fix)
        return value

    def port(self, name: str) -> int | None:
        """A TCP port, or None when unset."""
        raw = (self.env.get(name) or "").strip()
        if not raw:
            return None
        if not re.fullmatch(r"[0-9]+", raw) or not 1 <= int(raw) <= 65535:
            raise ConfigError(
                name, f"is {raw!r}, not a port", "set it to a number from 1 to 65535, or unset it"
            )
        return int(raw)

    def number(self, name: str, fallback: float, *, low: float, high: float | None = None) -> float:
        raw = self.text(name, str(fallback)).strip()
        bounds = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
        fix = f"set it to a number {bounds} (default {fallback:g})"
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, f"is {raw!r}, not a number", fix) from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            raise ConfigError(name, f"is {raw}, out of range", fix)
        return value

    def local_time(self, name: str, fallback: str) -> str:
        value = self.text(name, fallback).strip()
        if not _LOCAL_TIME.match(value):
            raise ConfigError(name, f"is {value!r}, not a time of day", "set it to HH:MM, e.g. 02:30")
        return value

    def http_url(self, name: str, fallback: str) -> str:
        value = self.text(name, fallback).strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                name, f"is {_without_password(value)!r}, not an http(s) URL", "set it to e.g. https://host"
            )
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ConfigError(
                name, "has a port that is not a number", "set it to e.g. https://host:443"
            ) from None
        return value

    def database_url(self, name: str, fallback: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        value = self.text(name, fallback).strip()
        fix = (
            "set it to postgresql://user:password@host:5432/dbname, or unset it for the embedded SQLite file"
        )
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ConfigError(name, f"is {_without_password(value)!r}, not a database URL", fix) from None
        if url.drivername not in _DATABASE_SCHEMES:
            raise ConfigError(name, f"names the database {url.drivername!r}, which is not supported", fix)
        if url.drivername != "sqlite" and not (url.host and url.database):
            raise ConfigError(name, "needs a host and a database name", fix)
        return value

    def broker_url(self, name: str) -> str | None:
        value = (self.env.get(name) or "").strip()
        if not value:
            return None
        fix = "set it to amqp://user:password@host:5672/%2F, or unset it for the in-process broker"
        parts = urlsplit(value)
        if parts.scheme not in _BROKER_SCHEMES or not parts.hostname:
            raise ConfigError(name, f"is {_without_password(value)!r}, not an amqp:// URL", fix)
        try:
            parts.port  # noqa: B018
        except ValueError:
            raise ConfigError(name, "has a port that is not a number", fix) from None
        return value

    def encryption_keys(self, name: str) -> tuple[str, ...]:
        from cryptography.fernet import Fernet

        entries = _split(self.env.get(name))
        seen: set[str] = set()
        for number, entry in enumerate(entries, start=1):
            key_id, sep, key = entry.partition(":")
            fix = "each entry is key_id:key, the key made by `rostersync keys new`"
            if not sep or not key_id or not key:
                raise ConfigError(name, f"entry {number} is not key_id:key", fix)
            if key_id in seen:
                raise ConfigError(name, f"names key {key_id!r} twice", "give each key its own id")
            seen.add(key_id)
            try:
                Fernet(key.encode())
            except ValueError:
                raise ConfigError(
                    name, f"key {key_id!r} is not a Fernet key (32 bytes, url-safe base64)", fix
                ) from None
        return entries

    def identity_keys(self, name: str) -> tuple[str, ...]:
        entries = _split(self.env.get(name))
        seen: set[str] = set()
        for number, entry in enumerate(entries, start=1):
            kid, sep, secret = entry.partition(":")
            if not sep or not kid or not secret:
                raise ConfigError(
                    name, f"entry {number} is not key_id:secret", "write each entry as key_id:secret"
                )
            if kid in seen:
                raise ConfigError(name, f"names key {kid!r} twice", "give each key its own id")
            seen.add(kid)
            if len(secret) < IDENTITY_SECRET_MIN_LENGTH:
                raise ConfigError(
                    name,
                    f"secret of {kid!r} is shorter than {IDENTITY_SECRET_MIN_LENGTH} characters",
                    "use a longer secret, e.g. `openssl rand -hex 32`",
                )
        return entries

    def webhook_secrets(self, name: str) -> tuple[str, ...]:
        entries = _split(self.env.get(name))
        for number, entry in enumerate(entries, start=1):
            district, sep, secret = entry.partition("=")
            if sep and not secret.strip() and _CLEVER_ID.match(district):
                raise ConfigError(
                    name,
                    f"entry {number} binds district {district} to an empty secret",
                    "write district_id=secret",
                )
        return entries

    def queue_names(self) -> None:
        """QUEUE_PREFIX and DEDICATED_LANES are read by messaging.queues; checked here with the rest."""
        from messaging.queues import validate_lane

        prefix = self.env.get("QUEUE_PREFIX", "")
        if not _QUEUE_PREFIX.match(prefix):
            raise ConfigError(
                "QUEUE_PREFIX",
                f"is {prefix!r}",
                "use at most 64 letters, digits, '.', '_', ':' or '-'",
            )
        for lane in _split(self.env.get("DEDICATED_LANES")):
            try:
                validate_lane(lane)
            except ValueError as exc:
                raise ConfigError("DEDICATED_LANES", f"names the lane {lane!r}", str(exc)) from None


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
