"""Encryption of OAuth tokens at rest, with key ids so keys can rotate.

ENCRYPTION_KEYS is a comma-separated list of `key_id:fernet_key`; the first encrypts, any
decrypts. A ciphertext is stored as `key_id:token`, so the right key is found without trying all.
"""

from __future__ import annotations

import base64
import hashlib

import structlog
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = structlog.get_logger(__name__)

_DEVELOPMENT_KEY_ID = "dev"


class KeyringError(ValueError):
    pass


class Keyring:
    def __init__(self, keys: dict[str, Fernet], primary: str, primary_secret: bytes) -> None:
        self._keys = keys
        self.primary = primary
        self._primary_secret = primary_secret

    @classmethod
    def from_setting(cls, entries: tuple[str, ...], *, allow_development_key: bool) -> Keyring:
        if not entries:
            if not allow_development_key:
                raise KeyringError("ENCRYPTION_KEYS is required with PostgreSQL")
            log.warning("encryption.development_key", reason="ENCRYPTION_KEYS unset; embedded demo only")
            dev_key = development_key()
            return cls({_DEVELOPMENT_KEY_ID: Fernet(dev_key)}, _DEVELOPMENT_KEY_ID, dev_key)
        keys: dict[str, Fernet] = {}
        for entry in entries:
            key_id, sep, key = entry.partition(":")
            if not sep or not key_id or not key:
                raise KeyringError("each ENCRYPTION_KEYS entry must look like key_id:fernet_key")
            try:
                keys[key_id] = Fernet(key.encode())
            except ValueError as exc:
                raise KeyringError(f"key {key_id!r} is not a Fernet key: {exc}") from None
        primary_id, _, primary_key = entries[0].partition(":")
        return cls(keys, primary_id, primary_key.encode())

    def encrypt(self, plaintext: str) -> str:
        token = self._keys[self.primary].encrypt(plaintext.encode()).decode()
        return f"{self.primary}:{token}"

    def decrypt(self, stored: str) -> str:
        key_id, _, token = stored.partition(":")
        fernet = self._keys.get(key_id)
        if fernet is None:
            # Typically a process started with the key list from before `keys rotate`.
            known = ", ".join(sorted(self._keys))
            raise KeyringError(
                f"no key {key_id!r} in ENCRYPTION_KEYS (this process has {known}; "
                "restart it with the current ENCRYPTION_KEYS)"
            )
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise KeyringError(f"ciphertext does not match key {key_id!r}") from None

    def needs_rotation(self, stored: str) -> bool:
        return stored.partition(":")[0] != self.primary

    def signing_key(self, purpose: str) -> bytes:
        """A key for HMACs (OAuth state) derived from the primary key, distinct per purpose."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"rostersync:{purpose}".encode())
        return hkdf.derive(self._primary_secret)


def development_key() -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(b"rostersync development key").digest())


def new_key() -> str:
    return Fernet.generate_key().decode()
