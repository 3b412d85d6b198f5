"""The query strings routes read, as models the OpenAPI document describes. The values are checked
where they are read (gateway/inputs: ASCII digits only, limits), with the reasons the README lists;
these models state the same rules for clients."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

CLEVER_ID = r"^[0-9a-fA-F]{24}$"
DIGITS = r"^[0-9]{1,18}$"


class RunsQuery(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=200, description="at most this many (default 50)")
    offset: int | None = Field(default=None, ge=0, le=999_999_999_999, description="skip this many")


class PageQuery(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=200, description="at most this many (default 50)")
    after: str | None = Field(default=None, pattern=DIGITS, description="the previous page's `next`")
    include_inactive: Literal["true", "false", "1", "0"] | None = Field(
        default=None, description="also deactivated rows"
    )


class AuditQuery(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=200)
    before: str | None = Field(default=None, pattern=DIGITS, description="the previous page's `next`")
    district_id: str | None = Field(default=None, pattern=CLEVER_ID, description="one district only")


class FailedQuery(BaseModel):
    district_id: str | None = Field(default=None, pattern=CLEVER_ID)
    status: Literal["waiting", "replayed", "dropped", "all"] | None = Field(
        default=None, description="default: waiting"
    )
    limit: int | None = Field(default=None, ge=1, le=200)
    after: str | None = Field(default=None, pattern=DIGITS)


class StaffQuery(BaseModel):
    district_id: str | None = Field(
        default=None, pattern=CLEVER_ID, description="needed when the id exists in several districts"
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
    after: str | None = Field(default=None, pattern=DIGITS, description="the previous page's last row")
    done: str | None = Field(default=None, description="which action just finished")


class PageNotice(BaseModel):
    done: str | None = Field(default=None, description="which action just finished")
