"""The JSON bodies the admin API takes, as pydantic models: handlers validate through them and the
OpenAPI document describes them. A refusal keeps the reason the API has always given (each model
words its own, from the first error in the order a person would fix them), so a client sees one
`{"error": reason}` and never pydantic's error list.

Bodies are validated in strict mode: `"1"` is not a number and `true` is not a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from domain.entities import Role
from gateway import district_options as options

ROLE_NAMES = ", ".join(role.value for role in Role)
MAX_PERIODS = 48
MAX_LABEL = 100
HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"
SHAPE_ERRORS = {"missing", "extra_forbidden", "model_type", "dict_type", "model_attributes_type"}


class Refusal(ValueError):
    """A body the route does not take; `str()` is the reason for the 422."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    shape: ClassVar[str] = "the body does not have the documented shape"

    @classmethod
    def refusal(cls, errors: Sequence[ErrorDetails]) -> str:
        """The reason for the first error: a validator's own words, else the body's shape."""
        for error in errors:
            reason = own_reason(error)
            if reason is not None:
                return reason
        return cls.shape


def own_reason(error: ErrorDetails) -> str | None:
    """A ValueError's text raised by one of our validators (pydantic prefixes its own words)."""
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", "")) or None
    return None


M = TypeVar("M", bound=Body)


def validate_body(model: type[M], body: Mapping[str, Any]) -> M:
    """`body` as `model`; raises Refusal with the reason."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Refusal(model.refusal(exc.errors())) from None


class SyncRequest(Body):
    shape: ClassVar[str] = 'the body must be {"kind": "full" | "reconcile"} or empty'
    kind: Literal["full", "reconcile"] = Field(default="full", description="full or reconcile")

    @classmethod
    def refusal(cls, errors: Sequence[ErrorDetails]) -> str:
        if any(e["type"] == "extra_forbidden" for e in errors):
            return cls.shape
        return 'kind must be "full" or "reconcile"'


class RoleOverride(Body):
    shape: ClassVar[str] = 'the body must be {"role": "<ROLE>"} or {"role": null}'
    role: Role | None = Field(description="the manual role, or null to clear the override")

    @classmethod
    def refusal(cls, errors: Sequence[ErrorDetails]) -> str:
        if any(e["type"] in SHAPE_ERRORS for e in errors):
            return cls.shape
        return f"role must be one of {ROLE_NAMES}, or null to clear the override"

    @field_validator("role", mode="before")
    @classmethod
    def _role_name(cls, value: Any) -> Any:
        # Strict mode takes only Role members; JSON carries the role's name.
        return Role(value) if isinstance(value, str) and value in Role._value2member_map_ else value


class Period(Body):
    label: str = Field(min_length=1, max_length=MAX_LABEL, description="shown as written, trimmed")
    start: str = Field(pattern=HH_MM, description="HH:MM, 24-hour")
    end: str = Field(pattern=HH_MM, description="HH:MM, 24-hour, after start")

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value.strip()

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start >= self.end:  # zero-padded HH:MM compares like the times it names
            raise ValueError("must start before it ends")
        return self


# Which check of a period comes first, as the API has always reported them.
_PERIOD_FIELD_ORDER = {"label": 1, "start": 2, "end": 3}


class BellScheduleBody(Body):
    shape: ClassVar[str] = f'the body must be {{"periods": [...]}} with 1 to {MAX_PERIODS} periods'
    periods: list[Period] = Field(min_length=1, max_length=MAX_PERIODS)

    @classmethod
    def refusal(cls, errors: Sequence[ErrorDetails]) -> str:
        per_period = [e for e in errors if len(e["loc"]) >= 2 and e["loc"][0] == "periods"]
        if len(per_period) < len(errors):
            return cls.shape  # the body itself, or the list, is wrong
        first = min(per_period, key=_period_error_rank)
        index, field = first["loc"][1], first["loc"][2] if len(first["loc"]) > 2 else None
        if first["type"] in SHAPE_ERRORS or (field is None and first["type"] != "value_error"):
            return f"periods[{index}] must have exactly label, start and end"
        if field == "label":
            return f"periods[{index}].label must be 1-{MAX_LABEL} characters"
        if field in ("start", "end"):
            return f"periods[{index}].{field} must be HH:MM (24-hour)"
        return f"periods[{index}] must start before it ends"


def _period_error_rank(error: ErrorDetails) -> tuple[int, int]:
    loc = error["loc"]
    index = loc[1] if isinstance(loc[1], int) else 0
    if error["type"] in SHAPE_ERRORS or (len(loc) == 2 and error["type"] != "value_error"):
        return index, 0
    return index, _PERIOD_FIELD_ORDER.get(str(loc[2]), 4) if len(loc) > 2 else 4


class RoleRule(Body):
    pattern: str = Field(min_length=1, max_length=options.MAX_PATTERN_LENGTH, description="a regex")
    role: Literal["DISTRICT_ADMIN", "SCHOOL_ADMIN", "CONTRIBUTOR", "RESTRICTED_VIEWER"]


class DistrictPatch(Body):
    """District options; null removes an option (the deployment's default applies again). The
    checks are district_options' (a lane must be in DEDICATED_LANES, a pattern must compile)."""

    # Declared in the order the checks run, so the first error is the one reported.
    lane: str | None = Field(default=None, description="operators only; a DEDICATED_LANES name")
    deactivation_threshold: float | None = Field(default=None, ge=0, le=1)
    role_rules: list[RoleRule] | None = Field(default=None, max_length=options.MAX_RULES)
    bell_schedule_ext_field: str | None = Field(default=None, min_length=1, max_length=64)
    # Absent leaves the timezone as it is; null is refused (a district always has one).
    timezone: str = Field(default=None, description="an IANA time zone name", max_length=64)  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _names(cls, body: Any) -> Any:
        if isinstance(body, Mapping):
            unknown = sorted(set(body) - {*options.OPTION_NAMES, "timezone"})
            if unknown:
                raise ValueError(f"unknown fields: {', '.join(unknown)}")
            if not body:
                raise ValueError("nothing to change")
        return body

    @field_validator("lane", "deactivation_threshold", "role_rules", "bell_schedule_ext_field", mode="before")
    @classmethod
    def _option(cls, value: Any, info: Any) -> Any:
        return options.checked_option(info.field_name, value)

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: Any) -> Any:
        return options.checked_timezone(value)

    def changes(self) -> options.DistrictChanges:
        sent = self.model_dump(include=self.model_fields_set)
        return options.DistrictChanges(
            options={name: sent[name] for name in options.OPTION_NAMES if name in sent},
            timezone=sent.get("timezone"),
        )


class WebhookData(BaseModel):
    object: dict[str, Any] = Field(description="the Clever object as it is now (its `id` included)")
    previous_attributes: dict[str, Any] | None = None


class WebhookEvent(BaseModel):
    """A Clever-shaped event; domain.events.parse_event checks it (the webhook's 422 reasons)."""

    id: str = Field(description="a 24-hex Clever event id; its first 8 digits are its time")
    type: str = Field(description="`<resource>.<created|updated|deleted>`")
    created: str | None = None
    data: WebhookData


class WebhookBody(RootModel[WebhookEvent | list[WebhookEvent]]):
    """One event, or a list of them."""


# The pages' forms (application/x-www-form-urlencoded): every one carries the session's CSRF token.
class CsrfForm(BaseModel):
    csrf_token: str = Field(description="the CSRF token of the page that sent the form")


class DeleteForm(CsrfForm):
    confirm_name: str = Field(description="the district's name, typed exactly as shown")


class RoleForm(CsrfForm):
    role: str = Field(description="a role name, or empty to clear the override")


class ScheduleForm(CsrfForm):
    periods: str = Field(description="one period per line: `label, HH:MM, HH:MM`")
