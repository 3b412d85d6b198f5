"""Pushes recorded events to a configured URL, signed like Stripe webhooks.

Clever itself has no webhooks (its Events API is polled); this exists so the product's webhook receiver can
be exercised end to end. Body = the event object plus ``"district"``; header
``Clever-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

SIGNATURE_HEADER = "Clever-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str
    district_id: str | None = None  # None = every district


def event_body(district_id: str, event_blob: bytes) -> bytes:
    event = json.loads(event_blob)
    event["district"] = district_id
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookPusher:
    """Background thread delivering queued events; retries with backoff; keeps a delivery log."""

    def __init__(self, retries: int = 3, backoff: float = 0.2, timeout: float = 5.0) -> None:
        self.target: WebhookTarget | None = None
        self.deliveries: list[dict[str, Any]] = []
        self._retries, self._backoff, self._timeout = retries, backoff, timeout
        self._queue: queue.Queue[tuple[WebhookTarget, str, str, bytes] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def configure(self, target: WebhookTarget | None) -> None:
        self.target = target
        if target is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhook-push", daemon=True)
            self._thread.start()

    def enqueue(self, district_id: str, event_id: str, blob: bytes) -> bool:
        target = self.target
        if target is None or (target.district_id and target.district_id != district_id):
            return False
        self._queue.put((target, district_id, event_id, blob))
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.deliveries)

    def clear_log(self) -> None:
        with self._lock:
            self.deliveries.clear()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                self._deliver(client, *item)

    def _deliver(
        self, client: httpx.Client, target: WebhookTarget, district_id: str, event_id: str, blob: bytes
    ) -> None:
        body = event_body(district_id, blob)
        record: dict[str, Any] = {
            "event_id": event_id,
            "district_id": district_id,
            "url": target.url,
            "attempts": 0,
            "status": None,
            "ok": False,
            "error": None,
        }
        for attempt in range(1, self._retries + 1):
            record["attempts"] = attempt
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(target.secret, body, int(time.time())),
            }
            try:
                response = client.post(target.url, content=body, headers=headers)
                record["status"], record["error"] = response.status_code, None
                if response.status_code < 300:
                    record["ok"] = True
                    break
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            time.sleep(self._backoff * (2 ** (attempt - 1)))
        with self._lock:
            self.deliveries.append(record)
