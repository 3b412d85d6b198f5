"""Settings are checked once, at start: each bad value is refused naming the variable, what is
wrong and the fix; secrets never appear in the message."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from rostersync.settings import ConfigError, Settings

PG = "postgresql://rostersync:s3cret-password@db.internal:5432/rostersync"
KEY = f"k1:{Fernet.generate_key().decode()}"


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        ({"PAGE_LIMIT": "abc"}, "PAGE_LIMIT", "not a whole number; set it to a whole number from 1 to 10000"),
        ({"PAGE_LIMIT": "20000"}, "PAGE_LIMIT", "out of range"),
        ({"APPLY_CHUNK_SIZE": "0"}, "APPLY_CHUNK_SIZE", "out of range"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "set it to one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "set it to one of json, console, auto"),
        ({"DEACTIVATION_THRESHOLD": "1.5"}, "DEACTIVATION_THRESHOLD", "from 0 to 1"),
        ({"EVENTS_POLL_SECONDS": "nan"}, "EVENTS_POLL_SECONDS", "out of range"),
        ({"INGEST_SLICE_SECONDS": "3600"}, "INGEST_SLICE_SECONDS", "from 1 to 1740"),
        ({"RECONCILE_LOCAL_TIME": "2:30am"}, "RECONCILE_LOCAL_TIME", "set it to HH:MM"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL", "names the database 'mysql'"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL", "not a database URL"),
        ({"DATABASE_URL": "postgresql://h:port/db"}, "DATABASE_URL", "not a database URL"),
        ({"BROKER_URL": "redis://localhost"}, "BROKER_URL", "not an amqp:// URL"),
        ({"CLEVER_API_BASE": "api.clever.com"}, "CLEVER_API_BASE", "not an http(s) URL"),
        ({"PUBLIC_BASE_URL": "ftp://x"}, "PUBLIC_BASE_URL", "not an http(s) URL"),
        ({"ENCRYPTION_KEYS": "no-colon"}, "ENCRYPTION_KEYS", "entry 1 is not key_id:key"),
        ({"ENCRYPTION_KEYS": "k1:not-fernet"}, "ENCRYPTION_KEYS", "key 'k1' is not a Fernet key"),
        ({"ENCRYPTION_KEYS": f"{KEY},{KEY}"}, "ENCRYPTION_KEYS", "names key 'k1' twice"),
        ({"IDENTITY_KEYS": "v1:too-short"}, "IDENTITY_KEYS", "shorter than 32 characters"),
        ({"WEBHOOK_SECRETS": "5940d254203e37907e0000f1="}, "WEBHOOK_SECRETS", "to an empty secret"),
        ({"DEDICATED_LANES": "Big Lane"}, "DEDICATED_LANES", "names the lane 'Big Lane'"),
        ({"QUEUE_PREFIX": "a b"}, "QUEUE_PREFIX", "at most 64 letters"),
        ({"WORKER_PREFETCH": "65536"}, "WORKER_PREFETCH", "out of range; set it to a whole number from 0 to"),
        ({"WORKER_PREFETCH": "-1"}, "WORKER_PREFETCH", "not a whole number"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_the_fix(
    env: dict[str, str], variable: str, says: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert refused.value.variable == variable
    message = str(refused.value)
    assert message.startswith(f"{variable} ") and says in message
    assert "\n" not in message and "; " in message  # what is wrong; how to fix it


def test_secrets_never_appear_in_a_refusal() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"DATABASE_URL": "postgresql://u:s3cret-password@h:notaport/db"})
    assert "s3cret-password" not in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"ENCRYPTION_KEYS": "k1:s3cret-but-not-fernet"})
    assert "s3cret" not in str(refused.value)


def test_good_values_are_read_and_normalized() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": PG,
            "ENCRYPTION_KEYS": KEY,
            "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
            "LOG_FORMAT": "JSON",
            "LOG_LEVEL": "debug",
            "CLEVER_API_BASE": "http://127.0.0.1:8765/",
            "PAGE_LIMIT": "40",
            "DEACTIVATION_THRESHOLD": "0.25",
            "DEDICATED_LANES": "big, huge",
            "WORKER_PREFETCH": "256",
        }
    )
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert settings.clever_api_base == "http://127.0.0.1:8765"
    assert (settings.page_limit, settings.deactivation_threshold) == (40, 0.25)
    assert settings.worker_prefetch == 256 and Settings.from_env({}).worker_prefetch == 0
    settings.require_encryption_keys()  # present: no error


def test_encryption_keys_are_required_with_postgresql_by_the_processes_that_use_tokens() -> None:
    settings = Settings.from_env({"DATABASE_URL": PG})  # a migration job needs no keys
    with pytest.raises(ConfigError, match=r"^ENCRYPTION_KEYS is required with PostgreSQL"):
        settings.require_encryption_keys()
    Settings.from_env({}).require_encryption_keys()  # the embedded default has a development key
