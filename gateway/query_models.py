"""The query strings routes read, as models: gateway/inputs parses every query string through
these (so they are the one validator) and the OpenAPI document describes them, so the document
and the checks cannot disagree. A refusal is 422 with the field's reason from `REASONS`.

Integers are ASCII digits only: `"²".isdigit()` is True and pydantic's own int parsing accepts
" 5", "5.0" and "1_0"; a query string is text, so the digits are checked before the number is."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, Field

CLEVER_ID = r"^[0-9a-fA-F]{24}$"
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
StatusFilter = Literal["waiting", "replayed", "dropped", "all"]
STATUS_FILTERS: tuple[str, ...] = get_args(StatusFilter)


def _digits(max_digits: int) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not (
            0 < len(value) <= max_digits and value.isascii() and value.isdigit()
        ):
            raise ValueError(f"at most {max_digits} ASCII digits")
        return value

    return BeforeValidator(check)


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError("true, false, 1 or 0")
        return lowered in ("true", "1")
    return value


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT), _digits(3)]
Offset = Annotated[int, Field(ge=0, le=999_999_999_999), _digits(12)]
Cursor = Annotated[int, Field(ge=0, le=999_999_999_999_999_999), _digits(18)]
Flag = Annotated[bool, BeforeValidator(_flag)]
CleverId = Annotated[str, Field(pattern=CLEVER_ID)]

# Why a value was refused, per parameter name (the same name means the same rule everywhere).
REASONS = {
    "limit": f"limit must be an integer from 1 to {MAX_LIMIT}",
    "offset": "offset must be a non-negative integer of at most 12 digits",
    "after": "after must be a cursor from a previous page's next",
    "before": "before must be a cursor from a previous page's next",
    "include_inactive": "include_inactive must be true or false",
    "status": f"status must be one of {', '.join(STATUS_FILTERS)}",
    "district_id": "district_id must be a 24-character hexadecimal Clever id",
}

LIMIT_DESCRIPTION = f"at most this many (default {DEFAULT_LIMIT})"


class RunsQuery(BaseModel):
    limit: Limit = Field(default=DEFAULT_LIMIT, description=LIMIT_DESCRIPTION)
    offset: Offset = Field(default=0, description="skip this many (default 0)")


class PageQuery(BaseModel):
    limit: Limit = Field(default=DEFAULT_LIMIT, description=LIMIT_DESCRIPTION)
    after: Cursor | None = Field(default=None, description="the previous page's `next`")
    include_inactive: Flag = Field(
        default=False, description="also deactivated rows: true, false, 1 or 0 (default false)"
    )


class AuditQuery(BaseModel):
    limit: Limit = Field(default=DEFAULT_LIMIT, description=LIMIT_DESCRIPTION)
    before: Cursor | None = Field(default=None, description="the previous page's `next`")
    district_id: CleverId | None = Field(
        default=None, description="one district only (another tenant's district is 404)"
    )


class FailedQuery(BaseModel):
    district_id: CleverId | None = Field(
        default=None, description="one district only (another tenant's district is 404)"
    )
    status: StatusFilter | None = Field(default=None, description="default: waiting")
    limit: Limit = Field(default=DEFAULT_LIMIT, description=LIMIT_DESCRIPTION)
    after: Cursor | None = Field(default=None, description="the previous page's `next`")


class StaffQuery(BaseModel):
    district_id: CleverId | None = Field(
        default=None, description="needed when the id exists in several districts"
    )


class SessionQuery(BaseModel):
    assertion: str | None = Field(default=None, description="the identity assertion (a JWT)")
    next: str | None = Field(default=None, max_length=512, description="a path on this site")


class OAuthStartQuery(BaseModel):
    district_id: str | None = Field(default=None, description="the Clever district to pre-select")


class CallbackQuery(BaseModel):
    state: str | None = None
    code: str | None = None
    error: str | None = None


class PageCursor(BaseModel):
    after: Cursor | None = Field(default=None, description="the previous page's last row")
    done: str | None = Field(default=None, description="which action just finished")


class PageNotice(BaseModel):
    done: str | None = Field(default=None, description="which action just finished")
