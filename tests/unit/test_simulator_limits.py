"""Rate limiting (429 + headers, window reset) and seeded fault injection."""

from __future__ import annotations

import time

from simulator.faults import Faults
from simulator.ratelimit import RateLimiter
from simulator.testing import FakeClock, in_process_simulator


def test_rate_limit_429_then_reset() -> None:
    clock = FakeClock()
    with in_process_simulator(schools=1, clock=clock, rate_limit=3, rate_window=2) as (client, state):
        headers = {"Authorization": f"Bearer {state.token_of(next(iter(state.districts)))}"}
        answers = [client.get("/v3.0/terms", headers=headers) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
        limited = answers[-1]
        assert limited.content == b"" and "retry-after" not in limited.headers
        assert (
            limited.headers["x-ratelimit-limit"] == "3" and limited.headers["x-ratelimit-bucket"] == "bearer"
        )
        assert int(limited.headers["x-ratelimit-reset"]) == int(clock.now + 2)
        clock.advance(2)
        assert client.get("/v3.0/terms", headers=headers).status_code == 200
        # reconfigure through the control API
        client.post("/_sim/ratelimit", json={"limit": 1, "window": 60})
        assert client.get("/v3.0/terms", headers=headers).status_code == 200
        assert client.get("/v3.0/terms", headers=headers).status_code == 429
        log = client.get("/_sim/requests").json()["requests"]
        assert [e["status"] for e in log][-2:] == [200, 429]


def test_limits_are_per_token() -> None:
    limiter = RateLimiter(limit=1, window=60, clock=FakeClock())
    assert limiter.hit("a").allowed and limiter.hit("b").allowed
    assert not limiter.hit("a").allowed


def test_fault_rng_is_repeatable() -> None:
    def statuses(seed: int) -> list[int | None]:
        faults = Faults(error_rate=0.3, seed=seed)
        return [faults.decide().status for _ in range(200)]

    first = statuses(5)
    assert first == statuses(5) and first != statuses(6)
    assert {500, 502, 503} == {s for s in first if s is not None}
    assert 30 < sum(s is not None for s in first) < 90


def test_faults_through_http() -> None:
    with in_process_simulator(schools=1) as (client, state):
        headers = {"Authorization": f"Bearer {state.token_of(next(iter(state.districts)))}"}
        client.post("/_sim/faults", json={"fail_next": [503, 502]})
        codes = [client.get("/v3.0/schools", headers=headers).status_code for _ in range(3)]
        assert codes == [503, 502, 200]
        client.post("/_sim/faults", json={"latency_ms": 150})
        started = time.monotonic()
        r = client.get("/v3.0/schools", headers=headers)
        assert r.status_code == 200 and time.monotonic() - started >= 0.15
        client.post("/_sim/faults", json={"latency_ms": 0, "stall_rate": 1, "stall_seconds": 0.3})
        started = time.monotonic()
        client.get("/v3.0/schools", headers=headers)
        assert time.monotonic() - started >= 0.3
        assert client.post("/_sim/faults", json={"bogus": 1}).status_code == 400
        # OAuth and control endpoints are not subject to data-API faults
        client.post("/_sim/faults", json={"stall_rate": 0, "error_rate": 1})
        assert client.get("/_sim/health").status_code == 200
        assert client.get("/v3.0/schools", headers=headers).status_code in (500, 502, 503)
