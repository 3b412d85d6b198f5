"""Pure pieces of the Clever client: backoff, rate-limit headers, links and envelopes, error mapping."""

from __future__ import annotations

import random

import pytest

from clever_client.errors import (
    CleverBadRequest,
    CleverError,
    CleverForbidden,
    CleverLimitTooLarge,
    CleverNotFound,
    CleverRateLimited,
    CleverUnauthorized,
    CleverUnavailable,
    NeedsReauth,
    error_for_status,
)
from clever_client.http import backoff_delay
from clever_client.pagination import (
    add_missing_params,
    check_limit,
    next_link,
    parse_list_body,
    resolve,
    with_params,
)
from clever_client.ratelimit import RateLimiter, parse_reset
from clever_client.tokens import StaticTokenSource

NOW = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def no_jitter(low: float, high: float) -> float:
    return low


# -- backoff ---------------------------------------------------------------------------------------


def test_backoff_ceiling_doubles_then_caps() -> None:
    ceilings = [backoff_delay(n, 0.5, 30.0, lambda lo, hi: hi) for n in range(10)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


def test_backoff_is_full_jitter_within_bounds() -> None:
    rng = random.Random(7)
    for retry in range(12):
        for _ in range(50):
            delay = backoff_delay(retry, 0.5, 30.0, rng.uniform)
            assert 0.0 <= delay <= min(30.0, 0.5 * 2**retry)
    assert backoff_delay(0, 0.5, 30.0, lambda lo, hi: lo) == 0.0


def test_backoff_survives_huge_retry_counts() -> None:
    assert backoff_delay(10_000, 0.5, 30.0, lambda lo, hi: hi) == 30.0


# -- rate limit ------------------------------------------------------------------------------------


def test_parse_reset_epoch_and_relative() -> None:
    assert parse_reset("1700000042", NOW) == 1_700_000_042.0
    assert parse_reset("30", NOW) == NOW + 30
    assert parse_reset(None, NOW) is None
    assert parse_reset("soon", NOW) is None
    assert parse_reset("-5", NOW) is None


def test_limiter_waits_only_when_window_exhausted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, jitter=no_jitter)
    assert limiter.delay_before_request() == 0.0
    limiter.observe({"x-ratelimit-remaining": "3", "x-ratelimit-reset": str(int(NOW) + 20)})
    assert limiter.delay_before_request() == 0.0
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 20)})
    assert limiter.delay_before_request() == pytest.approx(20.0)
    clock.now += 20.0
    assert limiter.delay_before_request() == 0.0


def test_limiter_ignores_missing_headers_and_past_resets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, jitter=no_jitter)
    limiter.observe({})
    limiter.observe({"x-ratelimit-remaining": "0"})
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 100)})
    assert limiter.delay_before_request() == 0.0


def test_limiter_caps_a_skewed_reset() -> None:
    limiter = RateLimiter(clock=FakeClock(), jitter=no_jitter, max_wait=120.0)
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 86_400)})
    assert limiter.delay_before_request() == pytest.approx(120.0)


def test_limiter_budget_returning_clears_the_block() -> None:
    limiter = RateLimiter(clock=FakeClock(), jitter=no_jitter)
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 20)})
    limiter.observe({"x-ratelimit-remaining": "1199", "x-ratelimit-reset": str(int(NOW) + 60)})
    assert limiter.delay_before_request() == 0.0


def test_429_waits_until_reset_plus_jitter() -> None:
    limiter = RateLimiter(clock=FakeClock(), jitter=lambda lo, hi: hi)
    delay = limiter.delay_after_429({"x-ratelimit-reset": str(int(NOW) + 7)})
    assert delay == pytest.approx(7.5)
    assert limiter.delay_before_request() == pytest.approx(7.5)


def test_429_without_reset_waits_a_minute_or_retry_after() -> None:
    limiter = RateLimiter(clock=FakeClock(), jitter=no_jitter)
    assert limiter.delay_after_429({}) == pytest.approx(60.05)
    assert RateLimiter(clock=FakeClock(), jitter=no_jitter).delay_after_429(
        {"retry-after": "3"}
    ) == pytest.approx(3.05)


# -- pagination ------------------------------------------------------------------------------------


def test_parse_list_body_unwraps_items_and_finds_next() -> None:
    body = {
        "data": [{"data": {"id": "a"}, "uri": "/v3.0/terms/a"}, {"data": {"id": "b"}}],
        "links": [
            {"rel": "self", "uri": "/v3.0/terms"},
            {"rel": "prev", "uri": "/v3.0/terms?ending_before=a"},
            {"rel": "next", "uri": "/v3.0/terms?starting_after=b"},
        ],
    }
    items, link = parse_list_body(body)
    assert items == [{"id": "a"}, {"id": "b"}]
    assert link == "/v3.0/terms?starting_after=b"


def test_event_items_are_unwrapped_exactly_once() -> None:
    event = {"id": "e1", "type": "users.updated", "created": "x", "data": {"object": {"id": "u1"}}}
    items, link = parse_list_body({"data": [{"data": event, "uri": "/v3.0/events/e1"}], "links": []})
    assert items == [event]
    assert link is None


@pytest.mark.parametrize(
    "body",
    [{}, {"data": {"id": "x"}}, {"data": [{"id": "x"}]}, {"data": ["x"]}],
)
def test_malformed_list_bodies_are_errors(body: dict[str, object]) -> None:
    with pytest.raises(CleverError):
        parse_list_body(body)


def test_next_link_tolerates_garbage() -> None:
    assert next_link(None) is None
    assert next_link([{"rel": "self", "uri": "/x"}]) is None
    assert next_link(["junk", {"rel": "next"}, {"rel": "next", "uri": "/y"}]) == "/y"


def test_resolve_prefixes_relative_links_and_rejects_other_hosts() -> None:
    base = "http://127.0.0.1:8080"
    assert (
        resolve(base, "/v3.0/users?starting_after=x") == "http://127.0.0.1:8080/v3.0/users?starting_after=x"
    )
    assert resolve(base + "/", "v3.0/users") == "http://127.0.0.1:8080/v3.0/users"
    assert resolve(base, "http://127.0.0.1:8080/v3.0/users") == "http://127.0.0.1:8080/v3.0/users"
    with pytest.raises(CleverError):
        resolve(base, "https://evil.example/v3.0/users")


def test_with_params_handles_dangling_separators() -> None:
    assert with_params("/v3.0/events?", [("limit", "5")]) == "/v3.0/events?limit=5"
    assert with_params("/v3.0/events", [("limit", "5")]) == "/v3.0/events?limit=5"
    assert with_params("/v3.0/events?a=1", [("limit", "5")]) == "/v3.0/events?a=1&limit=5"
    assert with_params("/v3.0/events?a=1", []) == "/v3.0/events?a=1"


def test_missing_params_are_restored_but_link_values_and_cursors_win() -> None:
    sticky = {"limit": "500", "record_type": ["users", "sections"], "starting_after": "old"}
    url = add_missing_params("/v3.0/events?starting_after=e9", sticky)
    assert url == "/v3.0/events?starting_after=e9&limit=500&record_type=users&record_type=sections"
    kept = add_missing_params("/v3.0/events?limit=25&record_type=users&starting_after=e9", sticky)
    assert kept == "/v3.0/events?limit=25&record_type=users&starting_after=e9"


@pytest.mark.parametrize("limit", [0, -1, 10_001, 50_000])
def test_limit_out_of_range(limit: int) -> None:
    with pytest.raises(ValueError):
        check_limit(limit)


def test_limit_bounds_accepted() -> None:
    check_limit(1)
    check_limit(10_000)


# -- errors and tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, CleverBadRequest),
        (401, CleverUnauthorized),
        (403, CleverForbidden),
        (404, CleverNotFound),
        (413, CleverLimitTooLarge),
        (429, CleverRateLimited),
        (500, CleverUnavailable),
        (503, CleverUnavailable),
        (504, CleverUnavailable),
    ],
)
def test_error_for_status(status: int, cls: type[CleverError]) -> None:
    err = error_for_status(status, "boom", "req-1")
    assert type(err) is cls
    assert (err.status, err.request_id, err.message) == (status, "req-1", "boom")
    assert "req-1" in str(err)


def test_501_is_permanent_not_unavailable() -> None:
    err = error_for_status(501, "unsupported", None)
    assert type(err) is CleverError
    assert not isinstance(err, CleverUnavailable)


def test_static_token_source_cannot_repair() -> None:
    source = StaticTokenSource("secret-token")
    assert source.current() == "secret-token"
    assert "secret-token" not in repr(source)
    with pytest.raises(NeedsReauth) as info:
        source.replace_rejected("secret-token")
    assert info.value.status == 401
