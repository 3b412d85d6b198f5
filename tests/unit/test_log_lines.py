"""The production log configuration, run in a fresh interpreter (it configures the process once):
the project's own lines and the standard library's come out as one JSON object per line, with
level, logger name and timestamp, below-level lines dropped, and exceptions rendered."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def run(code: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in done.stderr.splitlines()]


def test_own_and_foreign_lines_are_json_with_level_logger_and_time() -> None:
    lines = run(
        """
        import logging, threading, structlog
        from rostersync.logging import configure_logging
        configure_logging("json", "INFO")
        log = structlog.get_logger("gateway.requests")
        log.debug("hidden")
        log.info("http.request", status=202, big=2**70, name="é")
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("failed")
        logging.getLogger("dramatiq.worker").warning("started %s", "x")
        many = lambda: [log.info("t", n=i) for i in range(200)]
        threads = [threading.Thread(target=many) for _ in range(4)]
        [t.start() for t in threads]; [t.join() for t in threads]
        """
    )
    own, failed, foreign = lines[0], lines[1], lines[2]
    assert own["event"] == "http.request" and own["level"] == "info" and own["logger"] == "gateway.requests"
    assert own["big"] == 2**70 and own["name"] == "é" and own["timestamp"].endswith("Z")
    assert failed["level"] == "error" and "ZeroDivisionError" in failed["exception"]
    assert foreign == {**foreign, "event": "started x", "level": "warning", "logger": "dramatiq.worker"}
    assert not any(line["event"] == "hidden" for line in lines)
    assert len(lines) == 3 + 800  # every threaded line whole: each parsed as JSON above


def test_the_level_filters_own_lines() -> None:
    lines = run(
        """
        import structlog
        from rostersync.logging import configure_logging
        configure_logging("json", "WARNING")
        structlog.get_logger("x").info("quiet")
        structlog.get_logger("x").warning("loud")
        """
    )
    assert [line["event"] for line in lines] == ["loud"]
