"""The composition root: one place that builds a process's settings, database, broker and keys.

Actors and the gateway ask for `runtime()`; tests build their own `Runtime` with other settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import dramatiq
import structlog
from sqlalchemy import Engine

from clever_client.oauth import CleverOAuth
from messaging import queues
from rostersync.crypto import Keyring
from rostersync.settings import Settings
from storage.database import make_engine

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    broker: dramatiq.Broker | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def engine(self) -> Engine:
        from rostersync.metrics.pool import instrument_pool

        return instrument_pool(make_engine(self.settings.database_url))

    @cached_property
    def keyring(self) -> Keyring:
        return Keyring.from_setting(
            self.settings.encryption_keys, allow_development_key=self.settings.embedded_database
        )

    def oauth(self) -> CleverOAuth:
        s = self.settings
        return CleverOAuth(s.clever_oauth_base, s.clever_api_base, s.clever_client_id, s.clever_client_secret)

    def publish(
        self, kind: str, actor_name: str, kwargs: dict[str, Any], *, lane: str | None = None
    ) -> dramatiq.Message:
        """Enqueue a message by actor name, so callers need not import the actor modules."""
        broker = self.broker or dramatiq.get_broker()
        name = queues.queue_name(kind, lane)
        if name not in broker.get_declared_queues():
            broker.declare_queue(name)
        message: dramatiq.Message = dramatiq.Message(
            queue_name=queues.queue_name(kind, lane),
            actor_name=actor_name,
            args=(),
            kwargs=kwargs,
            options={},
        )
        return broker.enqueue(message)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(Settings.from_env())
        return _runtime


def set_runtime(value: Runtime | None) -> None:
    global _runtime
    with _runtime_lock:
        _runtime = value
