"""Synchronous Clever API client: data, events, OAuth and token listing, one request policy."""

from __future__ import annotations

from clever_client.api import CleverApi
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
)
from clever_client.http import DEFAULT_TIMEOUT
from clever_client.oauth import CleverOAuth, DistrictToken, MeInfo
from clever_client.pagination import Page
from clever_client.tokens import StaticTokenSource, TokenSource

__all__ = [
    "DEFAULT_TIMEOUT",
    "CleverApi",
    "CleverBadRequest",
    "CleverError",
    "CleverForbidden",
    "CleverLimitTooLarge",
    "CleverNotFound",
    "CleverOAuth",
    "CleverRateLimited",
    "CleverUnauthorized",
    "CleverUnavailable",
    "DistrictToken",
    "MeInfo",
    "NeedsReauth",
    "Page",
    "StaticTokenSource",
    "TokenSource",
]
