"""Results as JSON (everything) and Markdown (a summary table, then every figure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "latest.json", out_dir / "latest.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows: list[tuple[str, Any]] = []
        for key, inner in value.items():
            rows.extend(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(value, list) and value and isinstance(value[0], dict):
        rows = []
        for index, inner in enumerate(value):
            rows.extend(flatten(inner, f"{prefix}[{index}]"))
        return rows
    return [(prefix, value)]


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def markdown(results: dict[str, Any]) -> str:
    scenarios: dict[str, Any] = results["scenarios"]
    lines = ["# rostersync benchmark", ""]
    lines += _table(("machine", "value"), list(results["machine"].items()))
    lines += ["", f"Started {results['started_at']}, {_fmt(results['total_seconds'])} s in all.", ""]
    lines += ["## Targets beside the measured values", ""]
    rows = [
        (name, key, spec["target"], spec["measured"])
        for name, scenario in scenarios.items()
        for key, spec in scenario.get("targets", {}).items()
    ]
    lines += _table(("scenario", "figure", "target", "measured"), rows)
    lines += ["", "## Ratios to the raw limits measured in the same run", ""]
    ratios = [(n, k, v) for n, s in scenarios.items() for k, v in s.get("ratios", {}).items()]
    lines += _table(("scenario", "ratio", "value"), ratios)
    for name, scenario in scenarios.items():
        lines += ["", f"## {name}: {scenario['title']}", ""]
        for part in ("figures", "limits"):
            if scenario.get(part):
                lines += [f"### {part}", ""]
                lines += _table(("figure", "value"), flatten(scenario[part]))
                lines.append("")
    lines += ["## Configuration", ""]
    lines += _table(("setting", "value"), list(results["config"].items()))
    return "\n".join(lines) + "\n"
