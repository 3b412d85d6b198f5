"""Clever list pages: the envelope, ``rel=next`` links and the URLs they resolve to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from clever_client.errors import CleverError

MAX_LIMIT = 10_000
# Cursor parameters belong to the link alone; every other original parameter should survive paging.
CURSOR_PARAMS = frozenset({"starting_after", "ending_before"})

Params = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Page:
    """One list page. ``items`` are the inner objects (each list item's ``data``); ``url`` is the
    absolute URL fetched; ``next_url`` is Clever's relative ``next`` link (pass it back as
    ``start_url`` to resume), None on the last page."""

    items: list[dict[str, Any]]
    url: str
    next_url: str | None
    request_id: str | None


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def parse_list_body(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """``(inner objects, next link)`` from ``{"data": [{"data": {...}, "uri": ..}], "links": [..]}``."""
    data = body.get("data")
    if not isinstance(data, list):
        raise CleverError("list response has no data array")
    items: list[dict[str, Any]] = []
    for item in data:
        # Strict unwrap: an event object has its own "data" key, so guessing would mangle it.
        inner = item.get("data") if isinstance(item, dict) else None
        if not isinstance(inner, dict):
            raise CleverError("list item is not wrapped in a data object")
        items.append(inner)
    return items, next_link(body.get("links"))


def next_link(links: Any) -> str | None:
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next":
            uri = link.get("uri")
            if isinstance(uri, str) and uri:
                return uri
    return None


def resolve(base_url: str, link: str) -> str:
    """Absolute URL for a link: relative links get the base URL prefixed; absolute ones must stay on
    the base origin, because the bearer token travels with the request."""
    parts = urlsplit(link)
    if not parts.scheme and not parts.netloc:
        return base_url.rstrip("/") + "/" + link.lstrip("/")
    base = urlsplit(base_url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        raise CleverError("refusing to follow a link to another host")
    return link


def encode_params(params: Params) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, str):
            pairs.append((key, value))
        else:
            pairs.extend((key, v) for v in value)
    return pairs


def with_params(url: str, pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return url
    query = urlencode(list(pairs))
    if "?" not in url:
        return f"{url}?{query}"
    return url + ("" if url.endswith(("?", "&")) else "&") + query


def add_missing_params(url: str, sticky: Params) -> str:
    """Re-add original parameters a ``next`` link dropped (Clever keeps ``limit`` but we do not rely
    on it keeping ``record_type`` or ``role``); keys already on the link win."""
    present = {key for key, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    missing = [(k, v) for k, v in encode_params(sticky) if k not in present and k not in CURSOR_PARAMS]
    return with_params(url, missing)
