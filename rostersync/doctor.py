"""`rostersync doctor`: is this deployment able to work? Database, schema, broker, queues, keys and
Clever, each checked for real and reported as a row of one table; any failure makes the exit
code 1. Checks that depend on a failed one are skipped and say so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
from sqlalchemy import select

from rostersync import preflight
from rostersync.cli_failures import one_line
from rostersync.crypto import KeyringError
from rostersync.runtime import Runtime
from rostersync.text_table import render, terminal_width

OK, FAIL, SKIP = "ok", "FAIL", "skip"
CLEVER_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


def run(rt: Runtime, *, out: TextIO, clever: bool = True, width: int | None = None) -> int:
    checks = run_checks(rt, clever=clever)
    for line in render(
        ("check", "status", "detail"),
        [(c.name, c.status, c.detail) for c in checks],
        width=width or terminal_width(),
    ):
        print(line, file=out)
    failed = sum(c.status == FAIL for c in checks)
    print(f"\n{failed} check(s) failed" if failed else "\nall checks passed", file=out)
    return 1 if failed else 0


def run_checks(rt: Runtime, *, clever: bool = True) -> list[Check]:
    checks: list[Check] = []
    database = _attempt(
        "database", lambda: preflight.require_database(rt), preflight.describe_database(rt.settings)
    )
    checks.append(database)
    if database.status == OK:
        problem = _guard(lambda: preflight.schema_problem(rt))
        checks.append(Check("schema", FAIL if problem else OK, problem or "at the newest migration"))
    else:
        checks.append(Check("schema", SKIP, "the database did not answer"))
    checks += _broker_checks(rt)
    tokens = _stored_tokens(rt) if database.status == OK else None
    key_check, decrypted = _key_checks(rt, tokens)
    checks += key_check
    checks += _clever_checks(rt, decrypted) if clever else [Check("clever", SKIP, "--no-clever")]
    return checks


def _attempt(name: str, action: Callable[[], Any], success: str) -> Check:
    try:
        action()
    except Exception as exc:
        return Check(name, FAIL, _reason(exc))
    return Check(name, OK, success)


def _guard(action: Callable[[], str | None]) -> str | None:
    try:
        return action()
    except Exception as exc:
        return _reason(exc)


def _reason(exc: Exception) -> str:
    described = one_line(exc)
    if described is None:
        return f"{type(exc).__name__}: {exc}"
    return described[0]


def _broker_checks(rt: Runtime) -> list[Check]:
    from dramatiq.common import dq_name, xq_name

    from rostersync.queue_check import expected_queues, inspect_queues

    settings = rt.settings
    if settings.broker_url is None:
        note = "the in-process broker lives inside the gateway process: nothing to check from here"
        return [Check("broker", SKIP, note)]
    where = preflight.describe_broker(settings)
    broker = _attempt("broker", lambda: preflight.require_broker(settings), where)
    if broker.status != OK:
        return [broker, Check("queues", SKIP, "the broker did not answer")]
    queue_type = settings.queue_type
    try:
        states = inspect_queues(settings.broker_url, expected_queues(), queue_type)
    except Exception as exc:
        return [broker, Check("queues", FAIL, _reason(exc))]
    checks = [broker]
    for base in expected_queues():
        mine = [s for s in states if s.name in (base, dq_name(base), xq_name(base))]
        missing = [s.name for s in mine if not s.declared]
        wrong = [f"{s.name}: {s.detail}" for s in mine if s.matches is False]
        if missing:
            checks.append(
                Check(
                    f"queue {base}",
                    FAIL,
                    f"not declared: {', '.join(missing)} (workers declare their queues when they start)",
                )
            )
        elif wrong:
            checks.append(Check(f"queue {base}", FAIL, f"QUEUE_TYPE is {queue_type}, but {'; '.join(wrong)}"))
        else:
            checks.append(Check(f"queue {base}", OK, f"{queue_type}, with .DQ and .XQ"))
    return checks


def _stored_tokens(rt: Runtime) -> list[tuple[str, str]] | None:
    """(district id, stored ciphertext) of every connection holding a token; None: unreadable."""
    from storage.tables import districts

    try:
        with rt.engine.connect() as conn:
            query = select(districts.c.id, districts.c.token_ciphertext).where(
                districts.c.token_ciphertext.is_not(None)
            )
            return [(row.id, row.token_ciphertext) for row in conn.execute(query.order_by(districts.c.id))]
    except Exception:
        return None


def _key_checks(rt: Runtime, tokens: list[tuple[str, str]] | None) -> tuple[list[Check], dict[str, str]]:
    """The keys check, and the tokens it could decrypt (district id -> token) for the Clever check."""
    try:
        preflight.require_keys(rt)
    except Exception as exc:
        return [Check("keys", FAIL, _reason(exc))], {}
    if tokens is None:
        return [Check("keys", SKIP, "well formed; stored tokens not readable (database)")], {}
    decrypted: dict[str, str] = {}
    failures: list[str] = []
    old_key = 0
    for district_id, stored in tokens:
        try:
            decrypted[district_id] = rt.keyring.decrypt(stored)
        except KeyringError as exc:
            failures.append(f"{district_id}: {exc}")
            continue
        old_key += rt.keyring.needs_rotation(stored)
    if failures:
        return [
            Check(
                "keys",
                FAIL,
                f"{len(failures)} of {len(tokens)} token(s) do not decrypt: " + "; ".join(failures),
            )
        ], decrypted
    detail = f"every stored token decrypts ({len(tokens)})"
    if old_key:
        detail += f"; {old_key} under an older key: run `rostersync keys rotate`"
    return [Check("keys", OK, detail)], decrypted


def _clever_checks(rt: Runtime, tokens: dict[str, str]) -> list[Check]:
    """Clever answers, and each connection's token is still accepted (GET /v3.0/me with it)."""
    url = f"{rt.settings.clever_api_base}/v3.0/me"
    checks: list[Check] = []
    with httpx.Client(timeout=CLEVER_TIMEOUT_SECONDS) as client:
        try:
            client.get(url)  # without a token: any HTTP answer (401) shows Clever is reachable
        except httpx.HTTPError as exc:
            return [
                Check(
                    "clever", FAIL, f"{rt.settings.clever_api_base} unreachable: {exc or type(exc).__name__}"
                )
            ]
        checks.append(Check("clever", OK, f"{rt.settings.clever_api_base} answers"))
        for district_id, token in sorted(tokens.items()):
            checks.append(_token_check(client, url, district_id, token))
    return checks


def _token_check(client: httpx.Client, url: str, district_id: str, token: str) -> Check:
    name = f"token {district_id}"
    try:
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return Check(name, FAIL, f"Clever did not answer: {exc or type(exc).__name__}")
    if response.status_code == 200:
        return Check(name, OK, "accepted by Clever")
    if response.status_code in (401, 403):
        return Check(
            name, FAIL, f"refused by Clever ({response.status_code}): the district must connect again"
        )
    return Check(name, FAIL, f"Clever answered {response.status_code}")
