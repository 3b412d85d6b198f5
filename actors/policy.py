"""Which failures an actor retries.

Infrastructure errors (the database, RabbitMQ or Clever briefly unavailable; see
`messaging.infrastructure`) are waited out by `messaging.retry_policy` for RETRY_INFRA_HOURS,
whatever an actor says. Any other error repeats on every attempt (a malformed page, a key this
worker does not have), so an actor using `retry_transient` gives up at once: the message is
recorded in failed_messages with its cause, for an operator to replay once the cause is fixed.
"""

from __future__ import annotations

from messaging.infrastructure import is_infrastructure


def retry_transient(retries: int, exception: BaseException) -> bool:
    return is_infrastructure(exception)
