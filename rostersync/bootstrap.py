"""Process start-up shared by the worker, gateway, scheduler and demo."""

from __future__ import annotations

import dramatiq
import structlog

from messaging.broker import install_broker
from rostersync.logging import configure_logging
from rostersync.runtime import runtime

log = structlog.get_logger(__name__)


def ensure_broker(*, connection_attempts: int = 3) -> dramatiq.Broker:
    """Install the broker the settings ask for, once per process."""
    rt = runtime()
    if rt.broker is None:
        configure_logging(rt.settings.log_format, rt.settings.log_level)
        rt.broker = install_broker(
            rt.settings.broker_url,
            connection_attempts=connection_attempts,
            retry_infra_hours=rt.settings.retry_infra_hours,
            heartbeat_file=rt.settings.heartbeat_file,
            prefetch=rt.settings.worker_prefetch,
        )
        log.info("rostersync.backends", **rt.settings.describe_backends())
    return rt.broker
