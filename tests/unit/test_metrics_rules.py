"""The alert rules and the dashboard name only series the processes export (promtool is not
needed: the YAML and JSON are parsed and cross-checked against the code's catalogue)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import Counter, Gauge, Histogram

from rostersync.metrics import series
from rostersync.metrics.state import DeploymentState

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\brostersync_[a-z0-9_]+")
REQUIRED_ALERTS = {
    "RostersyncRunFailed",
    "RostersyncRunHeld",
    "RostersyncConnectionNeedsReauth",
    "RostersyncFailedMessagesWaiting",
    "RostersyncEventLagHigh",
    "RostersyncNoNightlyReconcile",
}


def exported_names() -> set[str]:
    """Every sample name the series and the database gauges can produce."""
    names: set[str] = set()
    for metric in vars(series).values():
        if not isinstance(metric, Counter | Gauge | Histogram):
            continue
        for family in metric.describe():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
            else:
                names.add(family.name)
    names.update(family.name for family in DeploymentState(engine=None).describe())  # type: ignore[arg-type]
    return names


def alert_rules() -> list[dict[str, object]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_alert_rules_are_well_formed_and_cover_what_operators_must_hear_of() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= REQUIRED_ALERTS
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert isinstance(rule["expr"], str) and NAME.search(rule["expr"]), rule
        assert rule["labels"]["severity"] in ("warning", "critical")  # type: ignore[index]
        assert rule["annotations"]["summary"]  # type: ignore[index]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", str(rule["for"])), rule


def test_the_alert_thresholds_are_the_ones_asked_for() -> None:
    by_name = {rule["alert"]: str(rule["expr"]) for rule in alert_rules()}
    assert "> 600" in by_name["RostersyncEventLagHigh"]  # ten minutes
    assert "26 * 3600" in by_name["RostersyncNoNightlyReconcile"]
    assert 'status="needs_reauth"' in by_name["RostersyncConnectionNeedsReauth"]


def test_every_series_the_rules_and_the_dashboard_use_is_exported() -> None:
    exported = exported_names()
    used_by_rules = {name for rule in alert_rules() for name in NAME.findall(str(rule["expr"]))}
    dashboard = json.loads((DEPLOY / "grafana" / "rostersync.json").read_text())
    used_by_dashboard = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in NAME.findall(target["expr"])
    }
    assert used_by_rules and used_by_dashboard
    assert used_by_rules <= exported, sorted(used_by_rules - exported)
    assert used_by_dashboard <= exported, sorted(used_by_dashboard - exported)


def test_a_misspelt_series_would_be_caught() -> None:
    assert "rostersync_runs_finished_total" in exported_names()
    assert "rostersync_runs_finished" not in exported_names()
    assert "rostersync_event_lag_seconds_bucket" in exported_names()
