"""The retry policy's pure parts: the backoff schedule for infrastructure errors covers the whole
budget (24 hours by default) with every wait well under RabbitMQ's 30-minute consumer timeout;
which errors count as the infrastructure's; a cause in words never carries an email or a token."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy.exc
from dramatiq.errors import ConnectionClosed

from clever_client.errors import CleverBadRequest, CleverUnavailable
from domain.events import InvalidEvent
from messaging.failure_cause import MAX_CAUSE, describe
from messaging.infrastructure import is_infrastructure
from messaging.retry_policy import INFRA_MAX_BACKOFF_MS, INFRA_MIN_BACKOFF_MS, infra_delay_ms
from rostersync.crypto import KeyringError
from services.mapping_for_apply import InvalidPage
from services.run_failures import gave_up

DAY_MS = 24 * 3_600_000
CONSUMER_TIMEOUT_MS = 30 * 60 * 1000


def schedule(budget_ms: int, jitter: float) -> list[int]:
    """The waits a message that always fails goes through, each attempt taking no time."""
    waits: list[int] = []
    elapsed = 0
    while (delay := infra_delay_ms(len(waits), elapsed, budget_ms=budget_ms, jitter=jitter)) is not None:
        waits.append(delay)
        elapsed += delay
    return waits


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_the_schedule_keeps_retrying_for_the_whole_day(jitter: float) -> None:
    waits = schedule(DAY_MS, jitter)
    assert sum(waits) >= DAY_MS  # never given up before the budget is spent
    assert sum(waits[:-1]) < DAY_MS  # and given up at the first failure after it
    assert max(waits) <= INFRA_MAX_BACKOFF_MS < CONSUMER_TIMEOUT_MS / 2


def test_waits_double_from_a_second_up_to_ten_minutes() -> None:
    waits = schedule(DAY_MS, jitter=0.0)
    assert waits[:4] == [1_000, 2_000, 4_000, 8_000]
    assert waits[-1] == INFRA_MAX_BACKOFF_MS == 600_000
    assert 140 <= len(waits) <= 160  # about 150 attempts in a day


def test_jitter_takes_up_to_half_off_but_never_below_half_the_minimum() -> None:
    assert infra_delay_ms(0, 0, budget_ms=DAY_MS, jitter=0.999) >= INFRA_MIN_BACKOFF_MS // 2
    assert infra_delay_ms(30, 0, budget_ms=DAY_MS, jitter=0.999) >= INFRA_MAX_BACKOFF_MS // 2
    assert infra_delay_ms(500, 0, budget_ms=DAY_MS, jitter=0.0) == INFRA_MAX_BACKOFF_MS


def test_a_short_budget_gives_up_soon() -> None:
    assert infra_delay_ms(0, 3_600_000, budget_ms=3_600_000, jitter=0.0) is None
    assert sum(schedule(10_000, jitter=0.0)) < 20_000


def _wrapped(orig: Exception) -> sqlalchemy.exc.DBAPIError:
    return sqlalchemy.exc.DBAPIError.instance("SELECT 1", {}, orig, psycopg.Error)


@pytest.mark.parametrize(
    "error",
    [
        sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        _wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        ConnectionClosed(OSError("connection reset")),
        ConnectionRefusedError("refused"),
        TimeoutError("timed out"),
        CleverUnavailable("Clever answered 503", status=503),
    ],
)
def test_infrastructure_errors(error: Exception) -> None:
    assert is_infrastructure(error)


def test_a_disconnect_seen_by_sqlalchemy_is_infrastructure_whatever_its_class() -> None:
    error = sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("closed"), connection_invalidated=True)
    assert is_infrastructure(error)
    assert not is_infrastructure(sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("closed")))


def test_an_error_raised_from_an_infrastructure_error_counts() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("publish failed") from inner
    except RuntimeError as outer:
        assert is_infrastructure(outer)


@pytest.mark.parametrize(
    "error",
    [
        InvalidPage("users:teacher item 1: no id"),
        InvalidEvent("event has no id"),
        KeyringError("no key 'k2' in ENCRYPTION_KEYS"),
        CleverBadRequest("bad request"),
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        TypeError("unexpected keyword argument"),
    ],
)
def test_errors_of_the_message_itself_are_not_infrastructure(error: Exception) -> None:
    assert not is_infrastructure(error)


def test_a_cause_names_the_error_type_and_its_message() -> None:
    assert describe(KeyringError("no key 'k2' in ENCRYPTION_KEYS")) == (
        "KeyringError: no key 'k2' in ENCRYPTION_KEYS"
    )


def test_a_cause_never_carries_an_email_or_a_token() -> None:
    token = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg0MjQyNDI0Mg"
    cause = describe(ValueError(f"t1@example.org rejected with Bearer {token}"))
    assert "example.org" not in cause and token not in cause
    assert cause == "ValueError: [email] rejected with Bearer [redacted]"


def test_a_cause_keeps_clever_ids_and_run_ids_readable() -> None:
    text = "page 0b5e6f1c-8a3e-4a4b-9e0a-1234567890ab:users:teacher:0:0 item 5a0c0b7e8f1d2c3b4a596877"
    assert describe(InvalidPage(text)) == f"InvalidPage: {text}"


def test_a_database_cause_is_the_driver_message_without_the_statement() -> None:
    orig = psycopg.errors.UniqueViolation(
        "duplicate key value violates unique constraint\nDETAIL: Key (email)=(a@b.org) already exists."
    )
    cause = describe(sqlalchemy.exc.IntegrityError("INSERT INTO staff_users ...", {"email": "a@b.org"}, orig))
    assert cause == "IntegrityError (UniqueViolation): duplicate key value violates unique constraint"


def test_a_cause_is_bounded() -> None:
    assert len(describe(ValueError("x " * 10_000))) == MAX_CAUSE


def test_a_run_that_gave_up_carries_its_cause() -> None:
    cause = "KeyringError: no key 'k2' in ENCRYPTION_KEYS"
    assert gave_up(0, cause) == cause
    assert gave_up(3, "CleverUnavailable: 503") == "CleverUnavailable: 503 (gave up after 3 retries)"
    assert gave_up(2, None) == "gave up after 2 retries"
