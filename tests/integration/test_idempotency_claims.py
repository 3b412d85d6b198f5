"""Claiming processed-message keys on real PostgreSQL and SQLite: a key is claimed once, by
whichever transaction records it first, whatever the batch's size or repeats."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from storage.idempotency import claim, claim_many
from storage.tables import processed_messages

DISTRICT = "d" * 24


def claim_all(engine: Engine, keys: list[str]) -> set[str]:
    with engine.begin() as conn:
        return claim_many(conn, keys, district_id=DISTRICT, kind="event")


def test_only_keys_not_yet_recorded_are_claimed(engine: Engine) -> None:
    assert claim_all(engine, ["event:a", "event:b"]) == {"event:a", "event:b"}
    with engine.begin() as conn:
        assert claim(conn, "event:c", district_id=DISTRICT, kind="event")
    # Batches of other sizes, with a repeat inside the batch: each key counts once.
    repeats = ["event:b", "event:d", "event:c", "event:d", "event:e"]
    assert claim_all(engine, repeats) == {"event:d", "event:e"}
    assert claim_all(engine, ["event:a"]) == set()
    assert claim_all(engine, []) == set()
    with engine.connect() as conn:
        rows = conn.execute(select(processed_messages.c.key, processed_messages.c.district_id))
        stored = {r.key: r.district_id for r in rows}
    assert stored == {f"event:{k}": DISTRICT for k in "abcde"}


def test_a_claim_rolled_back_with_its_transaction_is_not_kept(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert claim_many(conn, ["event:x"], district_id=DISTRICT, kind="event") == {"event:x"}
        raise RuntimeError("the batch failed after claiming")
    assert claim_all(engine, ["event:x"]) == {"event:x"}
