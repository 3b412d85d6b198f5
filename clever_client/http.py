"""One Clever HTTP request with the whole policy: timeouts, rate limits, retries, 401 repair, logging.

Every call of the client (data, events, OAuth) goes through ``HttpPolicy.send`` so the rules live here
only. Logs carry method, path (never the query), status and ``clever-request-id``: no tokens, emails
or query values.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

from clever_client.errors import CleverError, CleverRateLimited, CleverUnavailable, error_for_status
from clever_client.ratelimit import RateLimiter
from clever_client.tokens import TokenSource
from domain.privacy import without_student_ids
from rostersync.metrics import series

log = structlog.get_logger(__name__)

# httpx's default is 5 s on every phase; Clever list pages of 10,000 users take longer to stream.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "rostersync-clever-client/0.1"}

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# Transport failures after which the request may or may not have reached Clever.
_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
# Failures where the request certainly never left: safe to repeat even a POST.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # 429s do not use up max_retries, but a token that is throttled this often is a real problem.
    max_rate_limit_waits: int = 30


def backoff_delay(
    retry: int, base: float, cap: float, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**retry)), retry counted from 0."""
    ceiling = min(cap, base * (2 ** min(retry, 62)))
    return uniform(0.0, ceiling)


def request_id_of(response: httpx.Response) -> str | None:
    return response.headers.get("clever-request-id") or response.headers.get("x-request-id")


def error_message(response: httpx.Response) -> str:
    """Clever's ``{"message": ...}`` body when there is one, else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return response.reason_phrase or f"HTTP {response.status_code}"


class HttpPolicy:
    """Sends requests through one ``httpx.Client``; one instance (and rate-limit state) per API client."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._uniform = uniform
        self.limiter = RateLimiter(clock=clock, jitter=uniform)

    def send(
        self,
        method: str,
        url: str,
        *,
        tokens: TokenSource | None = None,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """A 2xx response, or a typed ``CleverError``.

        ``tokens`` supplies a bearer token and may repair one 401 per call; ``auth``/``headers`` are
        used as given (Basic auth, a user's own token) and a 401 is final.
        """
        path = httpx.URL(url).path
        retries = 0
        rate_limit_waits = 0
        token_replaced = False
        while True:
            wait = self.limiter.delay_before_request()
            if wait > 0:
                log.info("clever.rate_limit_wait", method=method, path=path, seconds=round(wait, 3))
                self._sleep(wait)
            request_headers = {**DEFAULT_HEADERS, **(headers or {})}
            token = tokens.current() if tokens is not None else None
            if token is not None:
                request_headers["Authorization"] = f"Bearer {token}"
            started = time.monotonic()
            try:
                response = self._client.request(
                    method, url, headers=request_headers, json=json, auth=auth, timeout=self._timeout
                )
            except _TRANSIENT_ERRORS as exc:
                series.CLEVER_REQUESTS.labels("error").inc()
                kind = type(exc).__name__
                may_repeat = idempotent or isinstance(exc, _NOT_SENT_ERRORS)
                if not may_repeat or retries >= self.retry.max_retries:
                    log.warning("clever.gave_up", method=method, path=path, error=kind, retries=retries)
                    raise CleverUnavailable(f"{method} {path} failed: {kind}") from exc
                retries = self._back_off(method, path, retries, error=kind)
                continue

            _cut_stream_cycle(response)
            status = response.status_code
            request_id = request_id_of(response)
            elapsed = time.monotonic() - started
            series.CLEVER_REQUESTS.labels(str(status)).inc()
            series.CLEVER_DURATION.observe(elapsed)
            log.debug(
                "clever.request",
                method=method,
                path=path,
                status=status,
                clever_request_id=request_id,
                elapsed_ms=round(elapsed * 1000, 1),
            )
            if 200 <= status < 300:
                self.limiter.observe(response.headers)
                return response

            log.warning(
                "clever.http_error", method=method, path=path, status=status, clever_request_id=request_id
            )
            if status == 429:
                rate_limit_waits += 1
                if rate_limit_waits > self.retry.max_rate_limit_waits:
                    raise CleverRateLimited(
                        f"{method} {path} still rate limited after {rate_limit_waits - 1} waits",
                        request_id=request_id,
                    )
                # Not an error retry: the wait happens at the top of the loop, shared with other threads.
                self.limiter.delay_after_429(response.headers)
                continue
            self.limiter.observe(response.headers)
            if status == 401 and tokens is not None and token is not None and not token_replaced:
                token_replaced = True
                # May raise NeedsReauth: that is the caller's signal to mark the district disconnected.
                tokens.replace_rejected(token)
                log.info("clever.token_replaced", method=method, path=path)
                continue
            if status in RETRYABLE_STATUSES and idempotent and retries < self.retry.max_retries:
                retries = self._back_off(method, path, retries, status=status)
                continue
            raise error_for_status(status, f"{method} {path}: {error_message(response)}", request_id)

    def _back_off(self, method: str, path: str, retries: int, **why: Any) -> int:
        delay = backoff_delay(retries, self.retry.backoff_base, self.retry.backoff_cap, self._uniform)
        log.warning("clever.retry", method=method, path=path, retry=retries + 1, delay=round(delay, 3), **why)
        self._sleep(delay)
        return retries + 1


def _cut_stream_cycle(response: httpx.Response) -> None:
    """httpx binds a response's stream back to the response (to time its close): a reference
    cycle, which only the garbage collector frees, so each page of several MB stayed in memory
    until its next pass. The body is read by now; a plain stream over it cuts the cycle, and the
    page goes as soon as nothing refers to it."""
    response.stream = httpx.ByteStream(response.content)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object; an HTML error page or a list is a ``CleverError``."""
    try:
        # Pages of 10,000 objects: parsed in C, with the sections' enrolments cut out first.
        body = orjson.loads(without_student_ids(response.content))
    except ValueError as exc:
        raise CleverError(
            "response is not JSON", status=response.status_code, request_id=request_id_of(response)
        ) from exc
    if not isinstance(body, dict):
        raise CleverError(
            "response is not a JSON object", status=response.status_code, request_id=request_id_of(response)
        )
    return body
