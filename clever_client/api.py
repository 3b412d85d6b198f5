"""Clever Data and Events API (v3.x) for one district token."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

import httpx

from clever_client.errors import CleverBadRequest, CleverError, CleverNotFound
from clever_client.http import DEFAULT_TIMEOUT, HttpPolicy, RetryPolicy, json_object, request_id_of
from clever_client.pagination import (
    Page,
    Params,
    add_missing_params,
    check_limit,
    encode_params,
    parse_list_body,
    resolve,
    with_params,
)
from clever_client.tokens import TokenSource

__all__ = ["DEFAULT_TIMEOUT", "CleverApi", "Page"]

_VERSIONED = re.compile(r"^/?v\d+\.\d+(/|$)")
EVENTS_PAGE_LIMIT = 1000


class CleverApi:
    """Reads one district's data with its district-app token.

    Rate-limit state belongs to the instance (Clever's budget is per token). An ``httpx.Client`` passed
    in is shared and left open by ``close()``; it is thread-safe for plain requests.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        version: str = "v3.0",
        client: httpx.Client | None = None,
        timeout: httpx.Timeout | None = None,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version.strip("/")
        self._tokens = tokens
        effective_timeout = timeout or DEFAULT_TIMEOUT
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=effective_timeout)
        self._http = HttpPolicy(
            self._client,
            timeout=effective_timeout,
            retry=RetryPolicy(max_retries=max_retries, backoff_base=backoff_base, backoff_cap=backoff_cap),
            sleep=sleep,
            clock=clock,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> CleverApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- data API --------------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """Absolute URL for ``users``, ``/users/ID`` or an already versioned ``/v3.0/...`` path."""
        if path.startswith(("http://", "https://")):
            return resolve(self.base_url, path)
        if _VERSIONED.match(path):
            return resolve(self.base_url, path)
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def get(self, path: str) -> dict[str, Any]:
        """One object (the unwrapped ``data``), e.g. ``get("users/5faa...")``."""
        body = json_object(self._http.send("GET", self.url_for(path), tokens=self._tokens))
        data = body.get("data")
        if not isinstance(data, dict):
            raise CleverError("single-object response has no data object")
        return data

    def iter_pages(
        self,
        resource: str,
        *,
        params: Params | None = None,
        limit: int = 10_000,
        start_url: str | None = None,
    ) -> Iterator[Page]:
        """Every page of a list endpoint, following ``next`` links until none is left or a page is empty.

        ``start_url`` (a saved ``Page.next_url``) resumes a crawl; pass the same ``params``. Empty pages
        are not yielded.
        """
        check_limit(limit)
        sticky: dict[str, str | Sequence[str]] = {k: v for k, v in (params or {}).items() if k != "limit"}
        sticky["limit"] = str(limit)
        if start_url is not None:
            url = add_missing_params(resolve(self.base_url, start_url), sticky)
        else:
            url = with_params(self.url_for(resource), encode_params(sticky))
        return self._follow(url, sticky)

    def _follow(self, url: str, sticky: Params) -> Iterator[Page]:
        seen: set[str] = set()
        while True:
            seen.add(url)
            response = self._http.send("GET", url, tokens=self._tokens)
            items, link = parse_list_body(json_object(response))
            if not items:
                return
            yield Page(items=items, url=url, next_url=link, request_id=request_id_of(response))
            if link is None:
                return
            url = add_missing_params(resolve(self.base_url, link), sticky)
            if url in seen:
                # A server bug would otherwise turn into an endless crawl.
                raise CleverError("pagination loop: next link repeats an earlier page")

    def district(self) -> dict[str, Any]:
        """The one district the token can see."""
        for page in self.iter_pages("districts"):
            return page.items[0]
        raise CleverNotFound("token sees no district")

    # -- events API ------------------------------------------------------------------------------

    def iter_events(
        self, starting_after: str | None, record_types: Sequence[str], *, limit: int = EVENTS_PAGE_LIMIT
    ) -> Iterator[Page]:
        """Events newer than ``starting_after`` (oldest first); items are whole ``{id,type,created,data}``.

        A 404 raises ``CleverNotFound``: the cursor event has aged out and a full sync is needed.
        """
        params: dict[str, str | Sequence[str]] = {"record_type": list(record_types)}
        if starting_after is not None:
            params["starting_after"] = starting_after
        return self.iter_pages("events", params=params, limit=limit)

    def latest_event_id(self) -> str | None:
        """Id of the newest event, None when the feed is empty.

        ``ending_before=last`` is not in Clever's spec but is what production clients use; if the
        server rejects it, walk the feed to its end instead.
        """
        url = with_params(self.url_for("events"), [("ending_before", "last"), ("limit", "1")])
        try:
            body = json_object(self._http.send("GET", url, tokens=self._tokens))
        except (CleverBadRequest, CleverNotFound):
            return self._last_event_id_by_paging()
        items, _ = parse_list_body(body)
        return _event_id(items[-1]) if items else None

    def _last_event_id_by_paging(self) -> str | None:
        last: str | None = None
        for page in self.iter_pages("events", limit=EVENTS_PAGE_LIMIT):
            last = _event_id(page.items[-1])
        return last


def _event_id(event: dict[str, Any]) -> str:
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise CleverError("event without an id")
    return event_id
