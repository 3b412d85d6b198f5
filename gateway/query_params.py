"""Query-string parameters of the admin API, validated (422 with the reason)."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from gateway.errors import invalid

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def limit(params: QueryParams, default: int = DEFAULT_LIMIT) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def offset(params: QueryParams) -> int:
    raw = params.get("offset")
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or len(raw) > 12:
        raise invalid("offset must be a non-negative integer")
    return int(raw)


def after(params: QueryParams) -> int | None:
    """The keyset cursor: the row id the previous page ended on (its `next`)."""
    raw = params.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise invalid("after must be a cursor from a previous page's next")
    return int(raw)


def flag(params: QueryParams, name: str) -> bool:
    raw = (params.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise invalid(f"{name} must be true or false")
    return raw in ("true", "1")
