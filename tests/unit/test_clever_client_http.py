"""The request policy of the Clever client, driven through ``CleverApi`` over ``httpx.MockTransport``."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from clever_client import (
    DEFAULT_TIMEOUT,
    CleverApi,
    CleverBadRequest,
    CleverError,
    CleverForbidden,
    CleverLimitTooLarge,
    CleverNotFound,
    CleverRateLimited,
    CleverUnauthorized,
    CleverUnavailable,
    NeedsReauth,
    StaticTokenSource,
)

BASE = "https://api.clever.test"
NOW = 1_700_000_000.0
Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when the client sleeps, so waits are observable without waiting."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Server:
    """Records requests and answers from a script (one response per request, the last one repeats)."""

    def __init__(self, *responses: httpx.Response | Handler) -> None:
        self.script = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        return step(request) if callable(step) else step


def page(
    ids: list[str], next_uri: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    links = [{"rel": "self", "uri": "/v3.0/x"}]
    if next_uri:
        links.append({"rel": "next", "uri": next_uri})
    body = {"data": [{"data": {"id": i}, "uri": f"/v3.0/x/{i}"} for i in ids], "links": links}
    return httpx.Response(200, json=body, headers={"clever-request-id": "rid-ok", **(headers or {})})


def status(code: int, message: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps({"message": message}).encode() if message else b""
    return httpx.Response(code, content=body, headers={"clever-request-id": f"rid-{code}", **(headers or {})})


class RotatingTokens:
    """A token source whose listing holds one replacement."""

    def __init__(self, first: str, replacement: str | None) -> None:
        self.token = first
        self.replacement = replacement
        self.rejected: list[str] = []

    def current(self) -> str:
        return self.token

    def replace_rejected(self, rejected: str) -> str:
        self.rejected.append(rejected)
        if self.replacement is None or self.replacement == rejected:
            raise NeedsReauth("district token revoked")
        self.token = self.replacement
        return self.token


def make_api(server: Server, tokens: Any = None, **kwargs: Any) -> tuple[CleverApi, FakeTime]:
    fake = FakeTime()
    client = httpx.Client(transport=httpx.MockTransport(server))
    api = CleverApi(
        BASE,
        tokens or StaticTokenSource("tok-district-secret"),
        client=client,
        sleep=fake.sleep,
        clock=fake.clock,
        **kwargs,
    )
    return api, fake


def items(api: CleverApi, resource: str = "schools", **kwargs: Any) -> list[str]:
    return [item["id"] for p in api.iter_pages(resource, **kwargs) for item in p.items]


# -- basics ----------------------------------------------------------------------------------------


def test_default_timeout_is_explicit_on_every_phase() -> None:
    assert DEFAULT_TIMEOUT.connect == 10.0
    assert DEFAULT_TIMEOUT.read == 60.0
    assert DEFAULT_TIMEOUT.write == 30.0
    assert DEFAULT_TIMEOUT.pool == 10.0


def test_requests_carry_bearer_token_json_accept_and_timeouts() -> None:
    server = Server(page(["a"]))
    api, _ = make_api(server, timeout=httpx.Timeout(3.0, read=7.0))
    assert items(api) == ["a"]
    request = server.requests[0]
    assert request.headers["authorization"] == "Bearer tok-district-secret"
    assert request.headers["accept"] == "application/json"
    assert request.extensions["timeout"] == {"connect": 3.0, "read": 7.0, "write": 3.0, "pool": 3.0}


def test_own_client_is_closed_shared_client_is_not() -> None:
    shared = httpx.Client(transport=httpx.MockTransport(Server(page([]))))
    with CleverApi(BASE, StaticTokenSource("t"), client=shared):
        pass
    assert not shared.is_closed
    own = CleverApi(BASE, StaticTokenSource("t"))
    own.close()
    assert own._client.is_closed


# -- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_transient_statuses_are_retried_with_backoff(code: int) -> None:
    server = Server(status(code), status(code), page(["a", "b"]))
    api, fake = make_api(server)
    assert items(api) == ["a", "b"]
    assert len(server.requests) == 3
    assert len(fake.sleeps) == 2
    assert fake.sleeps[0] <= 0.5 and fake.sleeps[1] <= 1.0


def test_retries_run_out_into_clever_unavailable() -> None:
    server = Server(status(503, "down"))
    api, fake = make_api(server, max_retries=3)
    with pytest.raises(CleverUnavailable) as info:
        items(api)
    assert info.value.status == 503
    assert info.value.request_id == "rid-503"
    assert len(server.requests) == 4
    assert len(fake.sleeps) == 3


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("stalled"),
        httpx.ConnectTimeout("no route"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("peer closed"),
    ],
)
def test_transport_errors_are_retried(exc: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    server = Server(fail, fail, page(["a"]))
    api, _ = make_api(server)
    assert items(api) == ["a"]
    assert len(server.requests) == 3


def test_transport_errors_run_out_into_clever_unavailable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("stalled")

    server = Server(fail)
    api, _ = make_api(server, max_retries=2)
    with pytest.raises(CleverUnavailable) as info:
        items(api)
    assert info.value.status is None
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, CleverBadRequest),
        (403, CleverForbidden),
        (404, CleverNotFound),
        (413, CleverLimitTooLarge),
        (501, CleverError),
        (418, CleverError),
    ],
)
def test_permanent_statuses_are_not_retried(code: int, cls: type[CleverError]) -> None:
    server = Server(status(code, "nope"))
    api, fake = make_api(server)
    with pytest.raises(cls) as info:
        api.get("schools/s1")
    assert type(info.value) is cls
    assert info.value.status == code
    assert "nope" in info.value.message
    assert len(server.requests) == 1
    assert fake.sleeps == []


def test_html_error_page_on_2xx_is_a_clever_error() -> None:
    server = Server(httpx.Response(200, text="<html>oops</html>"))
    api, _ = make_api(server)
    with pytest.raises(CleverError):
        api.get("schools/s1")


# -- rate limits -----------------------------------------------------------------------------------


def test_exhausted_window_sleeps_until_reset_before_next_call() -> None:
    reset = str(int(NOW) + 30)
    server = Server(
        page(
            ["a"],
            "/v3.0/schools?starting_after=a",
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        ),
        page(["b"]),
    )
    api, fake = make_api(server)
    assert items(api) == ["a", "b"]
    assert len(server.requests) == 2
    assert len(fake.sleeps) == 1
    assert 30.0 <= fake.sleeps[0] <= 30.5


def test_429_sleeps_until_reset_and_does_not_use_error_retries() -> None:
    limited = status(429, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 5)})
    # Four 429s with max_retries=1: they must not count as error retries.
    server = Server(limited, limited, limited, limited, status(503), page(["a"]))
    api, fake = make_api(server, max_retries=1)
    assert items(api) == ["a"]
    assert len(server.requests) == 6
    assert all(s > 0 for s in fake.sleeps)
    assert 5.0 <= fake.sleeps[0] <= 5.6


def test_429_without_headers_waits_a_minute() -> None:
    server = Server(status(429), page(["a"]))
    api, fake = make_api(server)
    assert items(api) == ["a"]
    assert len(fake.sleeps) == 1
    assert 60.0 <= fake.sleeps[0] <= 60.6


def test_endless_429_gives_up_after_a_bound() -> None:
    server = Server(status(429, headers={"x-ratelimit-reset": str(int(NOW) + 1)}))
    api, _ = make_api(server)
    with pytest.raises(CleverRateLimited) as info:
        items(api)
    assert isinstance(info.value, CleverUnavailable)
    assert info.value.status == 429
    assert 2 < len(server.requests) <= 100


def test_rate_limit_state_is_per_instance() -> None:
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}
    first, first_time = make_api(Server(page(["a"], headers=exhausted)))
    second, second_time = make_api(Server(page(["b"])))
    items(first)
    items(second)
    items(second)
    assert second_time.sleeps == []
    items(first)
    assert len(first_time.sleeps) == 1


# -- 401 and token replacement ---------------------------------------------------------------------


def test_401_replaces_the_token_once_and_retries() -> None:
    server = Server(status(401, "Invalid auth"), page(["a"]))
    tokens = RotatingTokens("tok-old", "tok-new")
    api, _ = make_api(server, tokens)
    assert items(api) == ["a"]
    assert tokens.rejected == ["tok-old"]
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer tok-old", "Bearer tok-new"]


def test_401_without_replacement_raises_needs_reauth_at_once() -> None:
    server = Server(status(401, "Invalid auth"))
    api, fake = make_api(server, RotatingTokens("tok-old", None))
    with pytest.raises(NeedsReauth):
        items(api)
    assert len(server.requests) == 1
    assert fake.sleeps == []


def test_static_token_401_is_needs_reauth() -> None:
    server = Server(status(401))
    api, _ = make_api(server)
    with pytest.raises(NeedsReauth):
        api.get("districts/d1")
    assert len(server.requests) == 1


def test_a_second_401_with_the_new_token_is_final() -> None:
    server = Server(status(401))
    tokens = RotatingTokens("tok-old", "tok-new")
    api, _ = make_api(server, tokens)
    with pytest.raises(CleverUnauthorized):
        items(api)
    assert len(server.requests) == 2
    assert tokens.rejected == ["tok-old"]


# -- logging ---------------------------------------------------------------------------------------


def test_logs_name_path_status_and_request_id_but_no_secrets() -> None:
    server = Server(status(500, "boom"), status(404, "gone"))
    api, _ = make_api(server, RotatingTokens("tok-very-secret", None))
    with capture_logs() as logs, pytest.raises(CleverNotFound):
        api.get("users?email=jane.doe%40example.org")
    warnings = [e for e in logs if e["log_level"] == "warning" and e["event"] == "clever.http_error"]
    assert [(w["status"], w["clever_request_id"]) for w in warnings] == [(500, "rid-500"), (404, "rid-404")]
    assert all(w["path"] == "/v3.0/users" and w["method"] == "GET" for w in warnings)
    assert any(e["log_level"] == "debug" and e["event"] == "clever.request" for e in logs)
    dumped = repr(logs)
    for secret in ("tok-very-secret", "jane.doe", "example.org", "email="):
        assert secret not in dumped


# -- memory ----------------------------------------------------------------------------------------


def test_a_page_is_freed_once_read_without_waiting_for_the_garbage_collector() -> None:
    """httpx's response and its stream refer to each other; the client cuts that cycle, so a page
    of several MB does not stay in memory until the collector's next pass."""
    answered: list[weakref.ref[httpx.Response]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        response = page(["s1", "s2"])
        answered.append(weakref.ref(response))
        return response

    api, _ = make_api(Server(answer))
    gc.disable()
    try:
        assert items(api) == ["s1", "s2"]
        assert answered and all(ref() is None for ref in answered)
    finally:
        gc.enable()
