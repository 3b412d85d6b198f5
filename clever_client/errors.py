"""Typed errors raised by the Clever client; callers branch on the class, never on message text."""

from __future__ import annotations


class CleverError(Exception):
    """Any failed Clever call. ``status`` is None when no HTTP response was received."""

    default_status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None) -> None:
        self.message = message
        self.status = status if status is not None else self.default_status
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"clever-request-id={self.request_id}")
        return " ".join(parts)


class CleverBadRequest(CleverError):
    default_status = 400


class CleverUnauthorized(CleverError):
    default_status = 401


class CleverForbidden(CleverError):
    default_status = 403


class CleverNotFound(CleverError):
    default_status = 404


class CleverLimitTooLarge(CleverError):
    """413: the ``limit`` parameter was over 10,000."""

    default_status = 413


class CleverUnavailable(CleverError):
    """5xx, timeouts or connection errors that outlasted every retry; worth trying again later."""


class CleverRateLimited(CleverUnavailable):
    """Still answered 429 after the generous bound of rate-limit waits."""

    default_status = 429


class NeedsReauth(CleverError):
    """The district's token was rejected and the token listing holds no replacement."""

    default_status = 401


def error_for_status(status: int, message: str, request_id: str | None) -> CleverError:
    """The typed error for a non-2xx status that is not (or no longer) retried."""
    by_status: dict[int, type[CleverError]] = {
        400: CleverBadRequest,
        401: CleverUnauthorized,
        403: CleverForbidden,
        404: CleverNotFound,
        413: CleverLimitTooLarge,
        429: CleverRateLimited,
    }
    cls = by_status.get(status)
    if cls is None and status >= 500 and status != 501:
        cls = CleverUnavailable
    # 501 ("unsupported request") and unexpected codes are permanent: the plain base class.
    return (cls or CleverError)(message, status=status, request_id=request_id)
