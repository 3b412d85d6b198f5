"""The checks of `PATCH /v1/districts/{id}` (run by gateway.request_models.DistrictPatch):
per-district options and the timezone.

Options live in `districts.options` (JSON), read by the ingest (lane), the run finisher
(deactivation_threshold, bell_schedule_ext_field) and the mapping (role_rules). A null value
removes an option, so the deployment-wide default applies again. The timezone is a column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.entities import Role
from messaging.queues import dedicated_lanes, validate_lane

OPTION_NAMES = ("lane", "deactivation_threshold", "role_rules", "bell_schedule_ext_field")
MAX_RULES = 100
MAX_PATTERN_LENGTH = 200
ROLE_NAMES = tuple(role.value for role in Role)


class InvalidOptions(ValueError):
    pass


@dataclass(frozen=True)
class DistrictChanges:
    options: dict[str, Any] = field(default_factory=dict)  # name -> new value (None: remove)
    timezone: str | None = None


def merged_options(current: Mapping[str, Any] | None, changes: DistrictChanges) -> dict[str, Any]:
    options = dict(current or {})
    for name, value in changes.options.items():
        if value is None:
            options.pop(name, None)
        else:
            options[name] = value
    return options


def checked_option(name: str, value: Any) -> Any:
    """The option's value as stored (None: remove it); raises InvalidOptions with the reason."""
    if value is None:
        return None
    if name == "lane":
        if not isinstance(value, str):
            raise InvalidOptions("lane must be a string")
        try:
            lane = validate_lane(value)
        except ValueError as exc:
            raise InvalidOptions(str(exc)) from None
        if lane not in dedicated_lanes():
            # Nothing would consume the lane's queues: the district's syncs would wait for ever.
            raise InvalidOptions(f"lane {lane!r} is not in DEDICATED_LANES")
        return lane
    if name == "deactivation_threshold":
        # bool is an int in Python; true/false is not a threshold.
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidOptions("deactivation_threshold must be a number from 0 to 1")
        return float(value)
    if name == "role_rules":
        return _role_rules(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise InvalidOptions("bell_schedule_ext_field must be a non-empty string of at most 64 characters")
    return value.strip()


def _role_rules(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_RULES:
        raise InvalidOptions(f"role_rules must be a list of at most {MAX_RULES} rules")
    rules = []
    for index, rule in enumerate(value):
        if not isinstance(rule, Mapping) or set(rule) != {"pattern", "role"}:
            raise InvalidOptions(f"role_rules[{index}] must be an object with pattern and role")
        pattern, role = rule["pattern"], rule["role"]
        if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_LENGTH:
            raise InvalidOptions(f"role_rules[{index}].pattern must be 1-{MAX_PATTERN_LENGTH} characters")
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            reason = f"role_rules[{index}].pattern is not a valid regular expression: {exc}"
            raise InvalidOptions(reason) from None
        if not isinstance(role, str) or role not in ROLE_NAMES:
            raise InvalidOptions(f"role_rules[{index}].role must be one of {', '.join(ROLE_NAMES)}")
        rules.append({"pattern": pattern, "role": role})
    return rules


def checked_timezone(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidOptions("timezone must be an IANA time zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidOptions(f"unknown time zone {value!r}") from None
    return value
