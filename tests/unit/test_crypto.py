"""Tokens at rest: encrypted under the first key of ENCRYPTION_KEYS, readable with any, rotatable."""

from __future__ import annotations

import pytest

from rostersync.crypto import Keyring, KeyringError, new_key

OLD, NEW = f"old:{new_key()}", f"new:{new_key()}"


def test_a_token_encrypted_under_an_old_key_is_still_read_after_rotation() -> None:
    before = Keyring.from_setting((OLD,), allow_development_key=False)
    stored = before.encrypt("district-token")
    assert "district-token" not in stored and stored.startswith("old:")

    after = Keyring.from_setting((NEW, OLD), allow_development_key=False)
    assert after.decrypt(stored) == "district-token"
    assert after.needs_rotation(stored)
    assert not after.needs_rotation(after.encrypt("district-token"))


def test_a_token_whose_key_left_the_setting_is_refused_with_the_key_id() -> None:
    stored = Keyring.from_setting((OLD,), allow_development_key=False).encrypt("t")
    with pytest.raises(KeyringError, match="old"):
        Keyring.from_setting((NEW,), allow_development_key=False).decrypt(stored)


@pytest.mark.parametrize("entry", ["no-separator", "k1:", ":abc", "k1:not-a-fernet-key"])
def test_malformed_keys_are_refused_at_start_up(entry: str) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_setting((entry,), allow_development_key=False)


def test_without_keys_only_the_embedded_default_gets_a_development_key() -> None:
    with pytest.raises(KeyringError):
        Keyring.from_setting((), allow_development_key=False)
    assert Keyring.from_setting((), allow_development_key=True).primary == "dev"


def test_signing_keys_differ_per_purpose_and_are_stable() -> None:
    keyring = Keyring.from_setting((NEW,), allow_development_key=False)
    assert keyring.signing_key("oauth-state") == keyring.signing_key("oauth-state")
    assert keyring.signing_key("oauth-state") != keyring.signing_key("other")
