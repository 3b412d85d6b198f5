"""Who is asking: short-lived identity assertions VenueOS signs (JWT), and the principal they name.

An assertion is a JWT with `sub`, `tenant` (the VenueOS district tenant id), `role`
(`district_admin` or `operator`), `aud` = `rostersync` and an `exp` at most an hour away. It is
checked with IDENTITY_KEYS (`key_id:secret`, HS256; the `kid` header picks the key, several for
rotation) or with the keys of a JWKS document at IDENTITY_JWKS_URL (asymmetric algorithms only).
Operator tokens (ADMIN_TOKENS) name a principal too, without an assertion.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import structlog

from rostersync.settings import Settings

log = structlog.get_logger(__name__)

AUDIENCE = "rostersync"
ROLES = ("district_admin", "operator")
MAX_LIFETIME_SECONDS = 3600
# The issuer's clock may run a little ahead of ours: an exp this much beyond the hour still passes.
CLOCK_LEEWAY_SECONDS = 60
MAX_CLAIM_LENGTH = 128
DEVELOPMENT_KEY_ID = "dev"
MIN_SECRET_LENGTH = 32
HMAC_ALGORITHMS = ("HS256",)
# Only asymmetric keys come from a JWKS document: a published HMAC secret would sign anything.
JWKS_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


class InvalidAssertion(ValueError):
    """The assertion cannot be trusted; the message is the reason given with the 401."""


class IdentityKeysUnavailable(RuntimeError):
    """The JWKS document could not be fetched: not the caller's fault, so a 503."""


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str  # "district_admin" | "operator"
    tenant: str | None  # None for operators
    credential: str  # "assertion:<kid>", "session", or "token:<fingerprint>"
    # When the assertion (or session) that named this principal ends; None for operator tokens.
    expires_at: float | None = field(default=None, compare=False)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def actor(self) -> str:
        """Who acted, as the audit log and `requested_by` record it."""
        if self.credential.startswith("token:"):
            return f"admin:{self.credential.removeprefix('token:')}"
        if self.is_operator:
            return f"operator:{self.sub}"
        return f"district_admin:{self.sub}@{self.tenant}"

    def log_fields(self) -> dict[str, str | None]:
        """What log lines may say about who acted: never `sub`, which may name a person."""
        return {"by_role": self.role, "by_tenant": self.tenant, "by_credential": self.credential}


def operator_token_principal(fingerprint: str) -> Principal:
    return Principal(sub=fingerprint, role="operator", tenant=None, credential=f"token:{fingerprint}")


def development_identity_secret() -> str:
    return hashlib.sha256(b"rostersync development identity key").hexdigest()


@dataclass(frozen=True)
class IdentityKeyring:
    secrets: Mapping[str, str]  # kid -> HS256 secret; the first signs development assertions
    jwks_client: jwt.PyJWKClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityKeyring:
        keys: dict[str, str] = {}
        for entry in settings.identity_keys:
            kid, sep, secret = entry.partition(":")
            if not sep or not kid or not secret:
                raise ValueError("each IDENTITY_KEYS entry must look like key_id:secret")
            if len(secret) < MIN_SECRET_LENGTH:  # HS256 wants at least 256 bits of key (RFC 7518)
                raise ValueError(f"the IDENTITY_KEYS secret of {kid!r} is shorter than {MIN_SECRET_LENGTH}")
            keys[kid] = secret
        client = None
        if settings.identity_jwks_url:
            client = jwt.PyJWKClient(settings.identity_jwks_url, cache_keys=True, lifespan=300, timeout=5)
        if not keys and client is None and settings.embedded_database:
            log.warning("identity.development_key", reason="IDENTITY_KEYS unset; embedded demo only")
            keys[DEVELOPMENT_KEY_ID] = development_identity_secret()
        return cls(keys, client)

    @property
    def configured(self) -> bool:
        return bool(self.secrets) or self.jwks_client is not None

    @property
    def signing_key(self) -> tuple[str, str]:
        """(kid, secret) of the first key, which `rostersync assertion` signs with."""
        if not self.secrets:
            raise ValueError("IDENTITY_KEYS is empty: no key to sign an assertion with")
        kid = next(iter(self.secrets))
        return kid, self.secrets[kid]


def issue_assertion(
    keyring: IdentityKeyring,
    *,
    sub: str,
    tenant: str | None,
    role: str,
    ttl_seconds: int = MAX_LIFETIME_SECONDS,
    now: float | None = None,
) -> str:
    """A signed assertion, as VenueOS issues them (the CLI and tests use it)."""
    kid, secret = keyring.signing_key
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if tenant is not None:
        claims["tenant"] = tenant
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def verify_assertion(token: str, keyring: IdentityKeyring, now: float | None = None) -> Principal:
    """Check the signature (key by `kid`), audience, expiry and claims; raises InvalidAssertion."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidAssertion("the assertion is not a well-formed JWT") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidAssertion("the assertion has no kid header")
    key, algorithms = _key_for(kid, keyring)
    if header.get("alg") not in algorithms:
        raise InvalidAssertion(f"the assertion's algorithm must be one of {', '.join(algorithms)}")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            audience=AUDIENCE,
            # Time is checked below against `now`, so tests and callers share one clock.
            options={
                "require": ["exp", "sub", "role", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise InvalidAssertion(f"the assertion's audience is not {AUDIENCE}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidAssertion(f"the assertion has no {exc.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise InvalidAssertion("the assertion's signature does not match its key") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidAssertion(f"the assertion is invalid: {type(exc).__name__}") from None
    return _principal(claims, kid, time.time() if now is None else now)


def _key_for(kid: str, keyring: IdentityKeyring) -> tuple[Any, tuple[str, ...]]:
    if kid in keyring.secrets:
        return keyring.secrets[kid], HMAC_ALGORITHMS
    if keyring.jwks_client is not None:
        try:
            signing = keyring.jwks_client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise IdentityKeysUnavailable("the identity JWKS document could not be fetched") from None
        except jwt.PyJWKClientError:
            raise InvalidAssertion(f"unknown key id {kid!r}") from None
        if signing.algorithm_name not in JWKS_ALGORITHMS:
            raise InvalidAssertion(f"key {kid!r} is not an asymmetric signing key")
        return signing.key, (signing.algorithm_name,)
    if not keyring.configured:
        raise InvalidAssertion("no identity keys are configured")
    raise InvalidAssertion(f"unknown key id {kid!r}")


def _principal(claims: Mapping[str, Any], kid: str, now: float) -> Principal:
    exp, nbf = claims["exp"], claims.get("nbf")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidAssertion("the assertion's exp must be a number")
    if exp <= now:
        raise InvalidAssertion("the assertion expired")
    if exp > now + MAX_LIFETIME_SECONDS + CLOCK_LEEWAY_SECONDS:
        raise InvalidAssertion("the assertion must expire within an hour")
    if isinstance(nbf, int | float) and nbf > now + CLOCK_LEEWAY_SECONDS:
        raise InvalidAssertion("the assertion is not valid yet")
    sub, role, tenant = claims["sub"], claims["role"], claims.get("tenant")
    if not _short_text(sub):
        raise InvalidAssertion("the assertion's sub must be a non-empty string")
    if role not in ROLES:
        raise InvalidAssertion(f"the assertion's role must be one of {', '.join(ROLES)}")
    if role == "district_admin" and not _short_text(tenant):
        raise InvalidAssertion("a district_admin assertion needs a tenant claim")
    return Principal(
        sub=sub,
        role=role,
        tenant=tenant if role == "district_admin" else None,
        credential=f"assertion:{kid}",
        expires_at=float(exp),
    )


def _short_text(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_CLAIM_LENGTH
        and value.isprintable()
        and value.strip() == value
    )
