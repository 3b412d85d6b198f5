"""Re-encrypt stored tokens with the primary key, so an old key can leave ENCRYPTION_KEYS."""

from __future__ import annotations

from sqlalchemy import select, update

from rostersync.runtime import Runtime
from storage.tables import districts


def rotate_tokens(rt: Runtime) -> int:
    keyring = rt.keyring
    count = 0
    with rt.engine.begin() as conn:
        rows = conn.execute(
            select(districts.c.id, districts.c.token_ciphertext).where(
                districts.c.token_ciphertext.is_not(None)
            )
        ).all()
        for district_id, stored in rows:
            if keyring.needs_rotation(stored):
                conn.execute(
                    update(districts)
                    .where(districts.c.id == district_id)
                    .values(token_ciphertext=keyring.encrypt(keyring.decrypt(stored)))
                )
                count += 1
    return count
