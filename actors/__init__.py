"""Dramatiq entry points, one module per stage. Each actor decodes its message and calls a
service; it holds no logic of its own.

Importing this package installs the process's broker (RabbitMQ when BROKER_URL is set, else
in-process) before any actor is declared, so `dramatiq actors` and `rostersync worker` work alike.
"""

from __future__ import annotations

from rostersync.bootstrap import ensure_broker

ensure_broker()

from actors import apply, connect, events, ingest, reconcile  # noqa: E402

__all__ = ["apply", "connect", "events", "ingest", "reconcile"]
