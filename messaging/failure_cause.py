"""A failure's cause in words, fit for a failed-message row, a run's error and a log line:
the exception's type and message, never a token or an email."""

from __future__ import annotations

import re

import sqlalchemy.exc

MAX_CAUSE = 500

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Bearer tokens, Fernet ciphertexts and keys: long unbroken runs of token characters. A Clever
# id (24) and a UUID (36) stay readable.
_SECRET = re.compile(r"[A-Za-z0-9_\-=+/]{40,}")


def redact(text: str) -> str:
    return _SECRET.sub("[redacted]", _EMAIL.sub("[email]", text))


def describe(exception: BaseException) -> str:
    """`Type: message`, first line only, redacted and bounded."""
    if isinstance(exception, sqlalchemy.exc.StatementError) and exception.orig is not None:
        # SQLAlchemy's own text adds the statement (and, unless hidden, its parameters).
        inner = exception.orig
        label = f"{type(exception).__name__} ({type(inner).__name__})"
        message = str(inner)
    else:
        label = type(exception).__name__
        message = str(exception)
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    text = f"{label}: {first_line}" if first_line else label
    return redact(text)[:MAX_CAUSE]
