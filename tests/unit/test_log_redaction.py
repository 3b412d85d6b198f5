"""A failing message's payload (staff emails, OAuth codes) never reaches the log output."""

from __future__ import annotations

import logging

import dramatiq
import pytest

from rostersync.log_redaction import RedactMessages


def test_dramatiq_log_lines_name_the_message_but_not_its_arguments(caplog: pytest.LogCaptureFixture) -> None:
    message = dramatiq.Message(
        queue_name="apply",
        actor_name="apply_page",
        args=(),
        kwargs={"items": [{"email": "jane.doe@school.org"}], "code": "secret-oauth-code"},
        options={},
    )
    logger = logging.getLogger("dramatiq.worker.WorkerThread")
    handler = caplog.handler
    handler.addFilter(RedactMessages())
    try:
        logger.error("Failed to process message %s with unhandled exception.", message)
    finally:
        handler.removeFilter(handler.filters[-1])
    text = caplog.text
    assert f"apply_page#{message.message_id}" in text
    assert "jane.doe@school.org" not in text and "secret-oauth-code" not in text
