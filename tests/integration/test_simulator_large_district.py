"""LARGE: one 1,000-school district served by a real simulator process (builds in roughly 20 s).

Checks the size targets (250,000+ non-student entities), memory, 10,000-object page speed, a full crawl in
ascending id order, and validates a sample of pages against the official spec (strict mode).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from simulator.spec import spec_validator
from simulator.testing import SimulatorHandle, running_simulator

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def big() -> Iterator[SimulatorHandle]:
    with running_simulator(schools=1000, seed=3, timeout=600) as handle:
        yield handle


def pages(sim: SimulatorHandle, path: str) -> Iterator[tuple[dict[str, Any], float]]:
    url: str | None = path
    with httpx.Client(base_url=sim.base_url, headers=sim.district.auth_header, timeout=120) as client:
        while url:
            started = time.perf_counter()
            r = client.get(url)
            elapsed = time.perf_counter() - started
            assert r.status_code == 200, r.text[:500]
            body = r.json()
            yield body, elapsed
            url = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)


def test_size_and_memory(big: SimulatorHandle) -> None:
    counts = big.district_info()[0]["counts"]
    assert counts["schools"] == 1000
    staff_like = counts["users"] - counts["users_student"] - counts["users_contact"]
    non_student = staff_like + counts["sections"] + counts["terms"] + counts["schools"]
    assert non_student >= 250_000, counts
    assert 20_000 <= counts["users_student"] <= 40_000
    assert big.process is not None
    rss = psutil.Process(big.process.pid).memory_info().rss
    assert rss < 2 * 1024**3, f"RSS {rss / 1e6:.0f} MB"


def test_full_crawl_with_10k_pages_is_fast_and_ordered(big: SimulatorHandle) -> None:
    validator = spec_validator(strict=True)
    counts = big.district_info()[0]["counts"]
    for resource, query in (("sections", ""), ("users", "&role=teacher"), ("users", "&role=staff")):
        ids: list[str] = []
        timings: list[float] = []
        for n, (body, elapsed) in enumerate(pages(big, f"/v3.0/{resource}?limit=10000{query}")):
            ids += [item["data"]["id"] for item in body["data"]]
            timings.append(elapsed)
            if n in (0, 7):  # validating 10k objects costs seconds; a sample of pages is enough
                validator.validate_list(resource, body)
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        expected = counts["sections"] if resource == "sections" else counts[f"users_{query.split('=')[1]}"]
        assert len(ids) == expected
        assert max(timings) < 2.0, timings  # typically ~0.05 s per 10k page


def test_events_and_singles_in_a_big_district(big: SimulatorHandle) -> None:
    validator = spec_validator(strict=True)
    snap_user = big.api("/v3.0/users", limit=1, role="district_admin").json()["data"][0]["data"]
    [result] = big.mutate(
        big.district.id, op="update", resource="users", id=snap_user["id"], data={"name": {"first": "Renée"}}
    )
    assert result["event_id"]
    body = big.api("/v3.0/events", ending_before="last", limit=5).json()
    validator.validate_list("events", body)
    assert body["data"][-1]["data"]["id"] == result["event_id"]
    for resource in ("schools", "terms", "courses"):
        validator.validate_list(resource, big.api(f"/v3.0/{resource}", limit=10000).json())
