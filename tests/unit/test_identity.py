"""Identity assertions (HS256 keys with rotation, a JWKS document over real HTTP), the bearer
credential of the admin API, the sign-in handoff and its session cookie, and the CLI that signs
development assertions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from test_gateway_support import ADMIN_TOKEN, Harness

from gateway.errors import ApiError, api_error_handler
from gateway.identity import (
    IdentityKeyring,
    IdentityKeysUnavailable,
    InvalidAssertion,
    Principal,
    issue_assertion,
    verify_assertion,
)
from gateway.sessions import (
    COOKIE_NAME,
    current_session,
    decode_session,
    encode_session,
    require_csrf,
    require_district_admin_session,
    safe_next,
)
from rostersync.runtime import Runtime
from rostersync.settings import Settings

NOW = 1_800_000_000.0
NEW_SECRET, OLD_SECRET = "new-secret-0123456789abcdef-0123456789", "old-secret-0123456789abcdef-0123456789"
KEYS = (f"k2:{NEW_SECRET}", f"k1:{OLD_SECRET}")
RING = IdentityKeyring({"k2": NEW_SECRET, "k1": OLD_SECRET})


def sign(
    claims: dict[str, Any], *, kid: str | None = "k2", secret: str = "new-secret-0123456789abcdef-0123456789"
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers)


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "u-17",
        "tenant": "tenant-a",
        "role": "district_admin",
        "aud": "rostersync",
        "exp": NOW + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def refused(token: str, keyring: IdentityKeyring = RING) -> str:
    with pytest.raises(InvalidAssertion) as caught:
        verify_assertion(token, keyring, now=NOW)
    return str(caught.value)


# --- verification ---------------------------------------------------------------------------


def test_a_district_admin_assertion_names_sub_tenant_and_key() -> None:
    principal = verify_assertion(sign(claims()), RING, now=NOW)
    assert principal == Principal("u-17", "district_admin", "tenant-a", "assertion:k2")
    assert not principal.is_operator
    assert principal.actor == "district_admin:u-17@tenant-a"
    assert principal.expires_at == NOW + 600
    assert "u-17" not in json.dumps(principal.log_fields())


def test_an_operator_assertion_has_no_tenant() -> None:
    principal = verify_assertion(sign(claims(role="operator")), RING, now=NOW)
    assert principal.is_operator and principal.tenant is None
    assert principal.actor == "operator:u-17"


@pytest.mark.parametrize(
    ("token_claims", "reason"),
    [
        (claims(exp=NOW - 1), "the assertion expired"),
        (claims(exp=NOW), "the assertion expired"),
        (claims(exp=NOW + 3600 + 61), "the assertion must expire within an hour"),
        (claims(exp=None), "the assertion has no exp claim"),
        (claims(aud="venueos"), "the assertion's audience is not rostersync"),
        (claims(aud=None), "the assertion has no aud claim"),
        (claims(sub=None), "the assertion has no sub claim"),
        (claims(sub=""), "the assertion's sub must be a non-empty string"),
        (claims(role="superuser"), "the assertion's role must be one of district_admin, operator"),
        (claims(tenant=None), "a district_admin assertion needs a tenant claim"),
        (claims(nbf=NOW + 600), "the assertion is not valid yet"),
    ],
)
def test_claims_that_are_refused(token_claims: dict[str, Any], reason: str) -> None:
    assert refused(sign(token_claims)) == reason


def test_an_assertion_lasting_exactly_an_hour_passes() -> None:
    assert verify_assertion(sign(claims(exp=NOW + 3600)), RING, now=NOW).sub == "u-17"


def test_key_rotation_the_kid_header_picks_the_key() -> None:
    old = sign(claims(), kid="k1", secret="old-secret-0123456789abcdef-0123456789")
    new = sign(claims(), kid="k2")
    assert verify_assertion(old, RING, now=NOW).credential == "assertion:k1"
    assert verify_assertion(new, RING, now=NOW).credential == "assertion:k2"
    # The old key retired: what it signed is refused by name.
    retired = IdentityKeyring({"k2": "new-secret-0123456789abcdef-0123456789"})
    assert refused(old, retired) == "unknown key id 'k1'"
    # Signed with the old secret but claiming the new kid.
    assert refused(sign(claims(), kid="k2", secret="old-secret-0123456789abcdef-0123456789")) == (
        "the assertion's signature does not match its key"
    )


def test_a_wrong_or_missing_kid_is_refused() -> None:
    assert refused(sign(claims(), kid="k9")) == "unknown key id 'k9'"
    assert refused(sign(claims(), kid=None)) == "the assertion has no kid header"


def _unsigned(header: dict[str, Any], body: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(body)}."


def test_alg_none_is_refused() -> None:
    token = _unsigned({"alg": "none", "kid": "k2", "typ": "JWT"}, claims())
    assert refused(token) == "the assertion's algorithm must be one of HS256"
    token = _unsigned({"alg": "HS256", "kid": "k2", "typ": "JWT"}, claims())  # no signature at all
    assert refused(token) == "the assertion's signature does not match its key"


def test_garbage_is_refused() -> None:
    assert refused("not-a-jwt") == "the assertion is not a well-formed JWT"
    assert refused("a.b.c") == "the assertion is not a well-formed JWT"


def test_no_keys_at_all_refuse_every_assertion() -> None:
    assert refused(sign(claims()), IdentityKeyring({})) == "no identity keys are configured"


def test_keyring_from_settings() -> None:
    ring = IdentityKeyring.from_settings(Settings(database_url="postgresql://x/y", identity_keys=KEYS))
    assert list(ring.secrets) == ["k2", "k1"] and ring.signing_key[0] == "k2"
    # PostgreSQL without keys: assertions are refused, operator tokens still work.
    assert not IdentityKeyring.from_settings(Settings(database_url="postgresql://x/y")).configured
    # The embedded default signs the demo in with a development key.
    assert list(IdentityKeyring.from_settings(Settings()).secrets) == ["dev"]
    with pytest.raises(ValueError, match="key_id:secret"):
        IdentityKeyring.from_settings(Settings(identity_keys=("no-colon",)))
    with pytest.raises(ValueError, match="shorter than 32"):
        IdentityKeyring.from_settings(Settings(identity_keys=("k1:short",)))


# --- JWKS over HTTP -------------------------------------------------------------------------


class _Jwks:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        self.document = {"keys": [{**jwk, "kid": "venueos-1", "alg": "RS256", "use": "sig"}]}
        self.requests = 0

    def sign(self, body: dict[str, Any], kid: str = "venueos-1") -> str:
        return jwt.encode(body, self.private, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[tuple[_Jwks, str, ThreadingHTTPServer]]:
    keys = _Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keys.requests += 1
            payload = json.dumps(keys.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield keys, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", server
    finally:
        server.shutdown()
        server.server_close()


def test_jwks_document_verifies_rs256_assertions(jwks: tuple[_Jwks, str, ThreadingHTTPServer]) -> None:
    keys, url, _ = jwks
    ring = IdentityKeyring.from_settings(Settings(database_url="postgresql://x/y", identity_jwks_url=url))
    principal = verify_assertion(keys.sign(claims()), ring, now=NOW)
    assert principal.credential == "assertion:venueos-1" and principal.tenant == "tenant-a"
    assert refused(keys.sign(claims(), kid="venueos-9"), ring) == "unknown key id 'venueos-9'"
    # An HMAC keyed with the published public key (algorithm confusion) must not pass as that key.
    public_pem = keys.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = _unsigned({"alg": "HS256", "kid": "venueos-1", "typ": "JWT"}, claims())[:-1]
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert refused(forged, ring) == "the assertion's algorithm must be one of RS256"
    assert keys.requests >= 1


def test_jwks_unreachable_is_not_the_callers_fault(jwks: tuple[_Jwks, str, ThreadingHTTPServer]) -> None:
    keys, url, server = jwks
    server.shutdown()
    server.server_close()
    ring = IdentityKeyring.from_settings(Settings(database_url="postgresql://x/y", identity_jwks_url=url))
    with pytest.raises(IdentityKeysUnavailable):
        verify_assertion(keys.sign(claims()), ring, now=NOW)


def test_api_takes_jwks_assertions_as_bearer(
    tmp_path: Path, jwks: tuple[_Jwks, str, ThreadingHTTPServer]
) -> None:
    keys, url, _ = jwks
    with Harness.open(tmp_path, identity_jwks_url=url) as h:
        now = time.time()
        good = keys.sign(claims(role="operator", exp=now + 300))
        assert h.client.get("/v1/districts", headers=h.admin(good)).status_code == 200
        stale = keys.sign(claims(role="operator", exp=now - 5))
        response = h.client.get("/v1/districts", headers=h.admin(stale))
    assert response.status_code == 401 and response.json() == {"error": "the assertion expired"}


# --- the admin API's bearer credential ------------------------------------------------------


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with Harness.open(tmp_path, identity_keys=KEYS) as harness:
        yield harness


def bearer(body: dict[str, Any], **sign_args: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign(body, **sign_args)}"}


def test_api_accepts_assertions_and_operator_tokens(h: Harness) -> None:
    now = time.time()
    operator = bearer(claims(role="operator", exp=now + 300))
    assert h.client.get("/v1/districts", headers=operator).status_code == 200
    assert h.client.get("/v1/districts", headers=h.admin(ADMIN_TOKEN)).status_code == 200


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "the assertion expired"),
        ("audience", "the assertion's audience is not rostersync"),
        ("signature", "the assertion's signature does not match its key"),
        ("kid", "unknown key id 'k7'"),
        ("none", "the assertion's algorithm must be one of HS256"),
    ],
)
def test_api_refuses_bad_assertions_with_a_reason(h: Harness, case: str, reason: str) -> None:
    now = time.time()
    tokens = {
        "expired": sign(claims(exp=now - 1)),
        "audience": sign(claims(aud="other", exp=now + 60)),
        "signature": sign(claims(exp=now + 60), secret="guessed-secret-0123456789abcdef-0123456789"),
        "kid": sign(claims(exp=now + 60), kid="k7"),
        "none": _unsigned({"alg": "none", "kid": "k2"}, claims(exp=now + 60)),
    }
    response = h.client.get("/v1/districts", headers={"Authorization": f"Bearer {tokens[case]}"})
    assert response.status_code == 401
    assert response.json() == {"error": reason}
    assert response.headers["www-authenticate"] == "Bearer"


# --- the sign-in handoff and the session cookie ---------------------------------------------


def _cookie_header(response: Any) -> str:
    header: str = response.headers["set-cookie"]
    return header


def test_handoff_sets_a_session_cookie_and_redirects(h: Harness) -> None:
    token = sign(claims(exp=time.time() + 900))
    response = h.client.get("/session", params={"assertion": token, "next": "/connect/start?x=1"})
    assert response.status_code == 303
    assert response.headers["location"] == "/connect/start?x=1"
    cookie = _cookie_header(response)
    assert cookie.startswith(f"{COOKIE_NAME}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "secure" in lowered and "path=/" in lowered
    # The session ends no later than the assertion that opened it.
    max_age = int(lowered.split("max-age=")[1].split(";")[0])
    assert 0 < max_age <= 900
    assert token not in cookie
    assert response.headers["cache-control"] == "no-store"


def test_handoff_cookie_is_not_secure_on_plain_http(tmp_path: Path) -> None:
    with Harness.open(tmp_path, identity_keys=KEYS, public_base_url="http://127.0.0.1:8000") as h:
        response = h.client.get("/session", params={"assertion": sign(claims(exp=time.time() + 60))})
    assert response.status_code == 200
    assert response.json()["tenant"] == "tenant-a"
    assert "secure" not in _cookie_header(response).lower()


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "x"]
)
def test_handoff_never_redirects_to_another_host(h: Harness, target: str) -> None:
    response = h.client.get(
        "/session", params={"assertion": sign(claims(exp=time.time() + 60)), "next": target}
    )
    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert safe_next(target) is None


def test_handoff_refuses_a_bad_assertion_and_sets_nothing(h: Harness) -> None:
    for params in ({}, {"assertion": sign(claims(exp=time.time() - 1))}):
        response = h.client.get("/session", params=params)
        assert response.status_code == 401
        assert "error" in response.json() and "set-cookie" not in response.headers


def _session_app(rt: Runtime) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        session = require_district_admin_session(request)
        return JSONResponse({"tenant": session.principal.tenant, "csrf": session.csrf_token})

    async def form(request: Request) -> JSONResponse:
        values = parse_qs((await request.body()).decode())
        session = require_csrf(request, values.get("csrf_token", [None])[0])
        return JSONResponse({"id": session.id})

    app = Starlette(
        routes=[Route("/whoami", whoami), Route("/form", form, methods=["POST"])],
        exception_handlers={ApiError: api_error_handler},
    )
    app.state.runtime = rt
    return app


def test_session_guards_and_csrf(h: Harness) -> None:
    opened = h.client.get("/session", params={"assertion": sign(claims(exp=time.time() + 600))})
    cookie = opened.cookies[COOKIE_NAME]
    with TestClient(_session_app(h.rt), base_url="https://sync.example.test") as client:
        assert client.get("/whoami").status_code == 401
        client.cookies.set(COOKIE_NAME, cookie)
        me = client.get("/whoami").json()
        assert me["tenant"] == "tenant-a"
        assert client.post("/form", data={"csrf_token": me["csrf"]}).status_code == 200
        refused_form = client.post("/form", data={"csrf_token": "0" * 64})
        assert refused_form.status_code == 403 and "CSRF" in refused_form.json()["error"]
        assert client.post("/form", data={}).status_code == 403
        # A forged or edited cookie is no session at all.
        payload, signature = cookie.split(".")
        client.cookies.set(COOKIE_NAME, f"{payload}x.{signature}")
        assert client.get("/whoami").status_code == 401
    operator = h.client.get(
        "/session", params={"assertion": sign(claims(role="operator", exp=time.time() + 60))}
    )
    with TestClient(_session_app(h.rt), base_url="https://sync.example.test") as client:
        client.cookies.set(COOKIE_NAME, operator.cookies[COOKIE_NAME])
        assert client.get("/whoami").status_code == 403


def test_session_cookie_expires_and_binds_its_fields() -> None:
    key = b"k" * 32
    principal = Principal("u-1", "district_admin", "tenant-a", "assertion:k2")
    value = encode_session(key, principal, "sid-1", NOW + 60)
    session = decode_session(key, value, now=NOW)
    assert session is not None and session.id == "sid-1"
    assert session.principal == Principal("u-1", "district_admin", "tenant-a", "session")
    assert decode_session(key, value, now=NOW + 60) is None  # expired
    assert decode_session(b"x" * 32, value, now=NOW) is None  # another secret
    assert decode_session(key, value + "0", now=NOW) is None
    other = encode_session(key, principal, "sid-2", NOW + 60)
    assert decode_session(key, other, now=NOW).csrf_token != session.csrf_token  # type: ignore[union-attr]


def test_current_session_reads_the_cookie(h: Harness) -> None:
    opened = h.client.get("/session", params={"assertion": sign(claims(exp=time.time() + 60))})
    scope = {
        "type": "http",
        "headers": [(b"cookie", f"{COOKIE_NAME}={opened.cookies[COOKIE_NAME]}".encode())],
        "app": h.client.app,
    }
    session = current_session(Request(scope))
    assert session is not None and session.principal.credential == "session"


# --- the development assertion command ------------------------------------------------------


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("IDENTITY_", "DATABASE_URL"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "rostersync.cli", "assertion", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_assertion_command_signs_with_the_first_key() -> None:
    done = _cli("--tenant", "tenant-a", "--sub", "u-5", "--ttl", "600", IDENTITY_KEYS=",".join(KEYS))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    principal = verify_assertion(token, RING)
    assert principal == Principal("u-5", "district_admin", "tenant-a", "assertion:k2")
    assert principal.expires_at is not None and principal.expires_at - time.time() <= 600


def test_assertion_command_on_the_embedded_default_warns_and_uses_the_development_key() -> None:
    done = _cli("--role", "operator")
    assert done.returncode == 0
    assert "identity.development_key" in done.stderr
    assert verify_assertion(done.stdout.strip(), IdentityKeyring.from_settings(Settings())).is_operator


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--ttl", "7200", "--tenant", "t"), "--ttl must be"), ((), "needs --tenant")],
)
def test_assertion_command_refuses(args: tuple[str, ...], message: str) -> None:
    done = _cli(*args, IDENTITY_KEYS=",".join(KEYS))
    assert done.returncode == 2 and message in done.stderr and not done.stdout


def test_issue_assertion_round_trip() -> None:
    token = issue_assertion(RING, sub="s", tenant=None, role="operator", ttl_seconds=60, now=NOW)
    assert verify_assertion(token, RING, now=NOW + 30).actor == "operator:s"
