"""The package installed exactly as the Dockerfile installs it: the paths its COPY lines name, into
a fresh virtual environment (no system site packages, no test extra), then every subcommand's
--help and `db upgrade` on SQLite, run the way the image runs them."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rostersync.cli import build_parser
from storage.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600  # a bound on a cold pip download, not a speed target


def copied_paths() -> list[str]:
    """The sources the Dockerfile copies into the image (COPY <src...> <dest>)."""
    paths: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"COPY\s+(?!--)(.+)$", line.strip())
        if match:
            paths += match.group(1).split()[:-1]
    return paths


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("image")
    src = base / "src"
    src.mkdir()
    for name in copied_paths():
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, src / name)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(src)], check=True, timeout=INSTALL_TIMEOUT)
    yield venv


def run(venv: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `rostersync`, with nothing of this checkout on its path or in its environment."""
    clean = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8", **env}
    return subprocess.run(
        [str(venv / "bin" / "rostersync"), *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def subcommands() -> list[list[str]]:
    """Every subcommand and nested subcommand of the CLI, as argument lists."""
    found: list[list[str]] = [[]]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_the_image_copies_no_benchmarks_and_no_tests() -> None:
    assert {"rostersync", "storage", "pyproject.toml"} <= set(copied_paths())
    assert not {"bench", "tests", ".venv"} & set(copied_paths())


def test_every_subcommand_answers_help(installed: Path, tmp_path: Path) -> None:
    commands = subcommands()
    assert ["db", "upgrade"] in commands and ["bench"] in commands
    for command in commands:
        result = run(installed, *command, "--help", cwd=tmp_path)
        assert result.returncode == 0, f"rostersync {' '.join(command)} --help: {result.stderr}"
        assert "usage:" in result.stdout
        assert "Traceback" not in result.stderr


def test_db_upgrade_on_sqlite_reaches_the_head(installed: Path, tmp_path: Path) -> None:
    database = tmp_path / "image.sqlite3"
    result = run(installed, "db", "upgrade", cwd=tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == head_revision()


def test_the_benchmarks_are_an_optional_part(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import bench"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode != 0 and "No module named 'bench'" in probe.stderr
    result = run(installed, "bench", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not part of this installation" in result.stderr


def test_the_installed_gateway_imports_without_this_checkout(installed: Path, tmp_path: Path) -> None:
    check = "import gateway.app, actors, rostersync.processes, storage.migrate"
    env = {
        "PATH": "/usr/bin:/bin",
        "QUEUE_PREFIX": "",
        **{k: v for k, v in os.environ.items() if k == "HOME"},
    }
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
