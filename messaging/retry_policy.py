"""Dramatiq's Retries, with infrastructure errors waited out for hours (RETRY_INFRA_HOURS).

An infrastructure error (see `messaging.infrastructure`) is retried, whatever the actor's own
retry rule says, with capped exponential backoff until RETRY_INFRA_HOURS have passed since the
message first failed; any other error follows Dramatiq's rules (`throws`, `retry_when`,
`max_retries`). Either way the cause in words goes into the message's options, where the
failure record and `on_retry_exhausted` actors read it.

Why a cap of 10 minutes and many attempts, rather than a few long waits: Dramatiq holds a
delayed message unacknowledged in the worker until it is due, and RabbitMQ takes back a
delivery left unacknowledged past its consumer timeout (30 minutes by default), redelivering
it at once and defeating the wait. Waits of at most 10 minutes stay well clear of that on any
stock RabbitMQ, and a retry that finds the database still down costs one cheap attempt, so
24 hours take about 150 attempts.
"""

from __future__ import annotations

import random
import time
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Retries

from messaging.failure_cause import describe
from messaging.infrastructure import is_infrastructure

INFRA_MIN_BACKOFF_MS = 1_000
INFRA_MAX_BACKOFF_MS = 10 * 60 * 1000

# Bookkeeping kept in a message's options while it is retried; a replay starts without it.
FIRST_FAILED_AT = "first_failed_at"
ATTEMPTS = "attempts"
CAUSE = "failure_cause"
BOOKKEEPING = frozenset(
    {"retries", "traceback", "requeue_timestamp", "eta", FIRST_FAILED_AT, ATTEMPTS, CAUSE}
)


def infra_delay_ms(
    retries: int,
    elapsed_ms: int,
    *,
    budget_ms: int,
    jitter: float,
    min_backoff_ms: int = INFRA_MIN_BACKOFF_MS,
    max_backoff_ms: int = INFRA_MAX_BACKOFF_MS,
) -> int | None:
    """How long to wait before the next attempt, or None once the budget is spent.

    Doubles from `min_backoff_ms` up to `max_backoff_ms`; `jitter` in [0, 1) takes up to half
    off, so workers that failed together do not all come back at the same instant.
    """
    if elapsed_ms >= budget_ms:
        return None
    ceiling = min(max_backoff_ms, min_backoff_ms * 2 ** min(retries, 32))
    return int(ceiling * (1 - jitter / 2))


class RetryPolicy(Retries):
    def __init__(self, *, infra_budget_ms: int, infra_min_backoff_ms: int = INFRA_MIN_BACKOFF_MS, **kw: Any):
        super().__init__(**kw)
        self.infra_budget_ms = infra_budget_ms
        self.infra_min_backoff_ms = infra_min_backoff_ms

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        if isinstance(exception, dramatiq.Retry):  # a deliberate hand-on, not a failure
            super().after_process_message(broker, message, result=result, exception=exception)
            return
        options = message.options
        now = int(time.time() * 1000)
        options[ATTEMPTS] = int(options.get(ATTEMPTS, 0)) + 1
        options.setdefault(FIRST_FAILED_AT, now)
        options[CAUSE] = describe(exception)
        actor = broker.get_actor(message.actor_name)
        throws = options.get("throws") or actor.options.get("throws")
        if not is_infrastructure(exception) or (throws and isinstance(exception, throws)):
            super().after_process_message(broker, message, result=result, exception=exception)
            return

        retries = int(options.get("retries", 0))
        options["retries"] = retries + 1
        options["requeue_timestamp"] = now
        delay = infra_delay_ms(
            retries,
            now - int(options[FIRST_FAILED_AT]),
            budget_ms=self.infra_budget_ms,
            jitter=random.random(),
            min_backoff_ms=self.infra_min_backoff_ms,
        )
        if delay is None:
            self.logger.warning(
                "Gave up on message %r after %d attempts: %s",
                message.message_id,
                options[ATTEMPTS],
                options[CAUSE],
            )
            message.fail()
            target = options.get("on_retry_exhausted") or actor.options.get("on_retry_exhausted")
            if target:
                broker.get_actor(target).send(message.asdict(), {"retries": retries, "max_retries": None})
            return
        self.logger.info(
            "Infrastructure error; retrying message %r in %d ms: %s",
            message.message_id,
            delay,
            options[CAUSE],
        )
        # Enqueued as the Message under the proxy (Dramatiq's Retries passes the proxy itself).
        broker.enqueue(message._message, delay=delay)
