"""Queue names: one queue per kind of work, so operators scale each queue's workers on their own.

QUEUE_PREFIX isolates deployments (and test runs) sharing one RabbitMQ. A district may be given
a dedicated lane (its `lane` option): its ingest and apply messages then go to `ingest.<lane>`
and `apply.<lane>`, consumed by a separate worker pool, so one large district never starves the
small ones.
"""

from __future__ import annotations

import os
import re

CONNECT = "connect"
INGEST = "ingest"
APPLY = "apply"
EVENTS = "events"
RECONCILE = "reconcile"

ALL = (CONNECT, INGEST, APPLY, EVENTS, RECONCILE)

# QUEUE_TYPE: classic queues live on one node; quorum queues are replicated across a cluster.
CLASSIC = "classic"
QUORUM = "quorum"
LANED = (INGEST, APPLY)

_LANE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def prefix() -> str:
    return os.environ.get("QUEUE_PREFIX", "")


def queue_type() -> str:
    """The RabbitMQ queue type every queue is declared with (QUEUE_TYPE, default classic)."""
    value = os.environ.get("QUEUE_TYPE", "").strip().lower() or CLASSIC
    if value not in (CLASSIC, QUORUM):
        raise ValueError(f"QUEUE_TYPE must be {CLASSIC} or {QUORUM}, not {value!r}")
    return value


def queue_name(kind: str, lane: str | None = None) -> str:
    """The RabbitMQ queue for a kind of work, in a district's lane when it has one."""
    if lane and kind in LANED:
        return f"{prefix()}{kind}.{lane}"
    return f"{prefix()}{kind}"


def validate_lane(lane: str) -> str:
    if not _LANE_NAME.match(lane):
        raise ValueError("a lane name is 1-32 lowercase letters, digits, '-' or '_'")
    return lane


def dedicated_lanes() -> tuple[str, ...]:
    """Lanes this deployment runs (DEDICATED_LANES), declared by every worker process."""
    names = (part.strip() for part in os.environ.get("DEDICATED_LANES", "").split(","))
    return tuple(validate_lane(name) for name in names if name)
