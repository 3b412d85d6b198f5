"""A run's counters under their documented names, whoever shows them (the API, the connect
progress page, `rostersync runs`): runs stored by earlier releases say `stale` for what is now
`outdated`, and their rows are kept as they were written."""

from __future__ import annotations

from collections.abc import Mapping

# Stored name -> documented name.
RENAMED = {"stale": "outdated"}


def documented(counters: Mapping[str, Mapping[str, int]] | None) -> dict[str, dict[str, int]]:
    """Counters per entity type, each outcome under its documented name (old and new summed)."""
    out: dict[str, dict[str, int]] = {}
    for entity_type, outcomes in (counters or {}).items():
        renamed: dict[str, int] = {}
        for name, value in outcomes.items():
            key = RENAMED.get(name, name)
            renamed[key] = renamed.get(key, 0) + value
        out[entity_type] = renamed
    return out
