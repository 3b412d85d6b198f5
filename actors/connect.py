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
def connect_district(
    *,
    nonce: str,
    redirect_uri: str,
    code_ciphertext: str | None = None,
    code: str | None = None,
    tenant_id: str | None = None,
    actor: str | None = None,
) -> None:
    """`code_ciphertext` is the authorization code encrypted with the token keyring; `code` is
    the plaintext form messages queued before that change carry."""
    connect_service(
        runtime(),
        nonce=nonce,
        redirect_uri=redirect_uri,
        code_ciphertext=code_ciphertext,
        code=code,
        tenant_id=tenant_id,
        actor=actor,
    )
