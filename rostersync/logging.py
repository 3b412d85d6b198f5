"""structlog, configured once: JSON lines in production, readable output in a terminal.

The project's own log calls are rendered by structlog and written straight to stderr, without a
detour through the standard library's records and handlers (at thousands of webhooks a second,
that detour cost about three times the rendering). Dramatiq, uvicorn and pika log through the
standard library; their records go through the same processors and renderer, so every line
looks alike.
"""

from __future__ import annotations

import json
import logging
import sys
import threading

import orjson
import structlog

from rostersync.log_redaction import RedactMessages

_configured = False


class StderrLines:
    """structlog's final logger: one rendered line per call, written whole under a lock (worker
    threads log concurrently). `name` is what `add_logger_name` reports. stderr is looked up at
    each write, so a replaced stderr (a test capturing output) gets the lines."""

    _lock = threading.Lock()

    def __init__(self, name: str = "") -> None:
        self.name = name

    def msg(self, line: str | bytes) -> None:
        text = line.decode() if isinstance(line, bytes) else line
        with self._lock:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    debug = info = warning = warn = error = exception = critical = fatal = log = msg


def _stderr_lines(*args: object) -> StderrLines:
    return StderrLines(args[0] if args and isinstance(args[0], str) else "")


def configure_logging(log_format: str = "auto", level: str = "INFO") -> None:
    """Route structlog and the standard library (Dramatiq, uvicorn) through one renderer."""
    global _configured
    if _configured:
        return
    _configured = True
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=_stderr_lines,
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactMessages())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    for noisy in ("httpx", "httpcore", "pika", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _json_line(value: object, **_: object) -> str:
    # orjson renders a dict several times faster than json.dumps; what it cannot (an integer
    # beyond 64 bits) falls back to the standard library, as anything unknown becomes its str.
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return json.dumps(value, default=str)
