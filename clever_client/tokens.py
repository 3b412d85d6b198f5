"""Where the bearer token for one district comes from, and how a rejected one is replaced."""

from __future__ import annotations

from typing import Protocol

from clever_client.errors import NeedsReauth


class TokenSource(Protocol):
    def current(self) -> str:
        """The token to send now."""
        ...

    def replace_rejected(self, rejected: str) -> str:
        """Called after a 401 with the token that was refused.

        Returns a different token found in Clever's token listing (a rotation), or raises
        ``NeedsReauth`` when the district no longer has one.
        """
        ...


class StaticTokenSource:
    """A fixed token (tools, tests): a 401 can never be repaired."""

    def __init__(self, token: str) -> None:
        self._token = token

    def current(self) -> str:
        return self._token

    def replace_rejected(self, rejected: str) -> str:
        raise NeedsReauth("token rejected and no token listing to consult")

    def __repr__(self) -> str:  # never show the token itself
        return "StaticTokenSource(<redacted>)"
