"""Webhook push: signed deliveries of recorded events, retries, explicit re-push."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from waiting import wait_until

from simulator.testing import in_process_simulator
from simulator.webhook_push import SIGNATURE_HEADER, sign


class Receiver:
    """Tiny HTTP endpoint collecting (headers, body); fails the first ``fail_first`` posts with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(500)
                else:
                    outer.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clever"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int) -> None:
        wait_until(lambda: len(self.received) >= n, f"{n} deliveries", every=0.02)


def deliveries(client: Any) -> list[dict[str, Any]]:
    return list(client.get("/_sim/webhook/deliveries").json()["deliveries"])


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    rec = Receiver(fail_first=1)
    yield rec
    rec.server.shutdown()


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(int(parts["t"]) - time.time()) < 60


def test_sign_format() -> None:
    header = sign("s3cret", b'{"a":1}', 1700000000)
    mac = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"


def test_events_are_pushed_signed_with_retry(receiver: Receiver) -> None:
    with in_process_simulator(schools=1) as (client, state):
        store = next(iter(state.districts.values()))
        assert client.post("/_sim/webhook", json={"url": receiver.url, "secret": "whsec"}).status_code == 200
        term_id = store.collections["terms"].ids[0]
        r = client.post(
            f"/_sim/districts/{store.id}/mutate",
            json={"op": "update", "resource": "terms", "id": term_id, "data": {"name": "Fall"}},
        )
        event_id = r.json()["results"][0]["event_id"]
        receiver.wait_for(1)
        headers, body = receiver.received[0]
        assert verify("whsec", headers[SIGNATURE_HEADER], body)
        event = json.loads(body)
        assert event["id"] == event_id and event["type"] == "terms.updated" and event["district"] == store.id
        assert event["data"]["object"]["name"] == "Fall"
        [delivery] = wait_until(lambda: deliveries(client), "the delivery recorded", every=0.02)
        assert delivery["ok"] and delivery["attempts"] == 2 and delivery["event_id"] == event_id
        # explicit re-push of the whole feed (initial districts.updated + the terms.updated)
        assert client.post("/_sim/webhook/push", json={"district_id": store.id}).json()["queued"] == 2
        receiver.wait_for(3)
        assert [json.loads(b)["type"] for _, b in receiver.received[1:]] == [
            "districts.updated",
            "terms.updated",
        ]
