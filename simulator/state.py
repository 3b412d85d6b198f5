"""Everything one running simulator holds: districts, credentials, limits, faults, logs, webhook pusher."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.district import generate_district
from simulator.faults import Faults
from simulator.ratelimit import RateLimiter
from simulator.requestlog import RequestLog
from simulator.scopes import Grant
from simulator.store import DistrictStore, Event
from simulator.tokens import Principal, TokenRegistry
from simulator.webhook_push import WebhookPusher

DEFAULT_CLIENT_ID = "sim-client-id"
DEFAULT_CLIENT_SECRET = "sim-client-secret"


@dataclass
class SimulatorConfig:
    seed: int = 1
    schools: int = 10
    districts: int = 1
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    rate_limit: int = 1200
    rate_window: float = 60.0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 0.0
    fault_seed: int = 0
    code_ttl: float = 60.0
    initial_event: bool = True
    honour_scopes: bool = True  # False: serve students and contacts to every token (over-share)
    consent_screen: bool = False  # True: /oauth/authorize shows Approve / Deny to a browser


class SimulatorState:
    def __init__(self, config: SimulatorConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config = config or SimulatorConfig()
        self.clock = clock
        self.districts: dict[str, DistrictStore] = {}
        self.auth = TokenRegistry(
            config.client_id, config.client_secret, clock=clock, code_ttl=config.code_ttl
        )
        self.limiter = RateLimiter(config.rate_limit, config.rate_window, clock=clock)
        self.faults = Faults(
            latency_ms=config.latency_ms,
            error_rate=config.error_rate,
            stall_rate=config.stall_rate,
            stall_seconds=config.stall_seconds,
            seed=config.fault_seed,
        )
        self.log = RequestLog(clock)
        self.webhook = WebhookPusher()
        self.honour_scopes = config.honour_scopes
        self.consent_screen = config.consent_screen
        for index in range(config.districts):
            self.add_district(config.seed, config.schools, index=index)

    def add_district(self, seed: int, schools: int, index: int | None = None) -> DistrictStore:
        """Generate a district, connect it (issue its token) and start recording its events."""
        if index is None:
            index = len(self.districts)
        data = generate_district(seed, schools, index=index)
        if data.id in self.districts:
            raise ValueError(f"district {data.id} already exists (same seed and index)")
        store = DistrictStore(data, clock=self.clock, initial_event=self.config.initial_event)
        del data  # the store keeps serialised objects only; drop the dicts to halve memory
        store.listeners.append(self._on_event)
        self.districts[store.id] = store
        self.auth.issue_district_token(store.id, seed)
        return store

    def _on_event(self, store: DistrictStore, event: Event) -> None:
        self.webhook.enqueue(store.id, event.id, event.blob)

    def grant_of(self, principal: Principal) -> Grant:
        """What a bearer may read; user (SSO) tokens never list anything, so only districts matter."""
        token = self.auth.district_tokens.get(principal.district_id)
        if not self.honour_scopes or principal.kind != "district" or token is None:
            return Grant.everything()
        return Grant.from_scopes(token.scopes)

    def token_of(self, district_id: str) -> str | None:
        token = self.auth.district_tokens.get(district_id)
        return token.access_token if token else None

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "id": d.id,
                "name": d.district.get("name"),
                "token": self.token_of(d.id),
                "connected": self.token_of(d.id) is not None,
                "events_enabled": d.events_enabled,
                "latest_event_id": d.latest_event_id(),
                "counts": d.counts(),
            }
            for d in self.districts.values()
        ]

    def ready_info(self, base_url: str) -> dict[str, Any]:
        return {
            "base_url": base_url,
            "client_id": self.auth.client_id,
            "client_secret": self.auth.client_secret,
            "districts": [
                {"id": d.id, "token": self.token_of(d.id), "name": d.district.get("name")}
                for d in self.districts.values()
            ],
        }
