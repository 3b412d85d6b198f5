"""connect queue: finish an OAuth connection (Clever's codes live one minute: a queue of its own)."""

from __future__ import annotations

import dramatiq

from actors.policy import retry_transient
from messaging import queues
from rostersync.runtime import runtime
from services.connect import ConnectFailed
from services.connect import connect_district as connect_service


@dramatiq.actor(
    queue_name=queues.queue_name(queues.CONNECT), retry_when=retry_transient, throws=(ConnectFailed,)
)
def connect_district(*, code: str, nonce: str, redirect_uri: str) -> None:
    connect_service(runtime(), code=code, nonce=nonce, redirect_uri=redirect_uri)
