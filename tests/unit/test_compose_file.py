"""docker-compose.yml as the CLI and the image understand it: every service's command parses,
every long-running process has a health check, RabbitMQ keeps its data, and the demo can tell the
browser's Clever address from the workers'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from messaging.heartbeat import main as heartbeat_check
from rostersync.cli import build_parser
from rostersync.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("image") == "rostersync"}


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_command_is_one_the_cli_accepts(name: str) -> None:
    build_parser().parse_args(OURS[name]["command"])


@pytest.mark.parametrize("name", sorted(n for n in OURS if n.startswith("worker-") or n == "scheduler"))
def test_workers_and_the_scheduler_have_a_heartbeat_check(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTBEAT_FILE", "")
    check = OURS[name]["healthcheck"]["test"]
    assert check[:4] == ["CMD", "python", "-m", "messaging.heartbeat"]
    assert float(check[4]) > 15  # longer than a tick or a beat
    assert heartbeat_check(check[4:]) == 1  # no HEARTBEAT_FILE written: unhealthy


def test_the_image_sets_the_heartbeat_file() -> None:
    assert "ENV HEARTBEAT_FILE=" in (ROOT / "Dockerfile").read_text()


def test_rabbitmq_keeps_its_data_under_a_fixed_node_name() -> None:
    rabbitmq = SERVICES["rabbitmq"]
    assert any(v.endswith(":/var/lib/rabbitmq") for v in rabbitmq["volumes"])
    assert rabbitmq["hostname"] == "rabbitmq"
    assert "rabbitmqdata" in COMPOSE["volumes"]


def test_the_cluster_profile_has_three_nodes_behind_one_address() -> None:
    nodes = [
        n for n, s in SERVICES.items() if n.startswith("rabbitmq-") and "cluster" in s.get("profiles", [])
    ]
    assert sorted(nodes) == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "rabbitmq-lb"]
    for node in ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3"):
        assert f"rabbit@{node}" in COMPOSE["configs"]["rabbitmq-cluster"]["content"]
        assert f"server {node} {node}:5672" in COMPOSE["configs"]["rabbitmq-haproxy"]["content"]


def test_the_environment_names_settings_that_exist() -> None:
    env = OURS["gateway"]["environment"]
    assert {"CLEVER_OAUTH_BASE", "CLEVER_OAUTH_BROWSER_BASE", "QUEUE_TYPE"} <= set(env)
    demo = {
        "CLEVER_API_BASE": "http://simulator:8765",
        "CLEVER_OAUTH_BASE": "http://simulator:8765",
        "CLEVER_OAUTH_BROWSER_BASE": "http://localhost:8765",
    }
    settings = Settings.from_env(demo)
    assert (settings.clever_oauth_base, settings.clever_authorize_base) == (
        "http://simulator:8765",
        "http://localhost:8765",
    )


SCRAPED = sorted(n for n in OURS if n.startswith("worker-") or n == "scheduler")


def test_each_worker_service_and_the_scheduler_serve_metrics_on_a_port_of_their_own() -> None:
    ports = {name: OURS[name]["environment"]["METRICS_PORT"] for name in SCRAPED}
    assert len(set(ports.values())) == len(ports), ports
    for name, port in ports.items():
        assert Settings.from_env({"METRICS_PORT": port}).metrics_port == int(port), name
        # The service still gets the shared environment it would get without a port.
        assert set(OURS["gateway"]["environment"]) <= set(OURS[name]["environment"]), name


def test_prometheus_scrapes_exactly_the_gateway_the_workers_and_the_scheduler() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    command = OURS["gateway"]["command"]
    expected = {f"gateway:{command[command.index('--port') + 1]}"}
    expected |= {f"{name}:{OURS[name]['environment']['METRICS_PORT']}" for name in SCRAPED}
    assert targets == expected
    for rules in config["rule_files"]:
        assert (ROOT / "deploy" / "prometheus" / rules).is_file()
