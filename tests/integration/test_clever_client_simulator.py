"""The Clever client against the Clever simulator over real HTTP (``simulator.testing``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clever_client import (
    CleverApi,
    CleverBadRequest,
    CleverLimitTooLarge,
    CleverNotFound,
    CleverOAuth,
    CleverUnavailable,
    NeedsReauth,
    StaticTokenSource,
)
from domain.privacy import STAFF_USER_ROLES, strip_students
from simulator.testing import SimDistrict, SimulatorHandle, running_simulator

# Roomy but finite: every test here finishes in seconds; this only proves nothing loops forever.
NOT_ENDLESS = 60.0
FAST_TIMEOUT = httpx.Timeout(5.0, read=1.0)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    # Districts: 0 = read-only crawls, 1 = token rotation, 2 = revocation, 3 = events.
    with running_simulator(schools=2, districts=4, seed=11) as handle:
        yield handle


@pytest.fixture(autouse=True)
def calm(sim: SimulatorHandle) -> Iterator[None]:
    """Every test starts and ends with no faults, the default rate limit and an empty request log."""
    sim.clear_faults()
    sim.set_rate_limit(1200, 60.0)
    sim.clear_requests()
    yield
    sim.clear_faults()
    sim.set_rate_limit(1200, 60.0)


def api_for(sim: SimulatorHandle, district: SimDistrict | None = None, **kwargs: Any) -> CleverApi:
    token = (district or sim.district).token
    assert token is not None
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("backoff_cap", 0.2)
    return CleverApi(sim.base_url, StaticTokenSource(token), **kwargs)


def oauth_for(sim: SimulatorHandle) -> CleverOAuth:
    return CleverOAuth(sim.base_url, sim.base_url, sim.client_id, sim.client_secret, timeout=FAST_TIMEOUT)


def crawl(api: CleverApi, resource: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [item for page in api.iter_pages(resource, **kwargs) for item in page.items]


def by_id(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=lambda o: o["id"])


def data_requests(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["path"].startswith("/v3.")]


def expected(sim: SimulatorHandle, district: SimDistrict | None = None) -> dict[str, list[dict[str, Any]]]:
    snap = sim.snapshot((district or sim.district).id)
    out = {name: by_id(snap[name]) for name in ("schools", "terms", "courses")}
    # The client cuts enrolments (student ids) out of a page before parsing it.
    out["sections"] = by_id([strip_students(section) for section in snap["sections"]])
    out["districts"] = [snap["district"]]
    for role in STAFF_USER_ROLES:
        out[f"users?role={role}"] = by_id(snap["users_by_role"][role])
    return out


def crawl_all(api: CleverApi, limit: int = 10_000) -> dict[str, list[dict[str, Any]]]:
    got = {
        name: crawl(api, name, limit=limit)
        for name in ("schools", "sections", "terms", "courses", "districts")
    }
    for role in STAFF_USER_ROLES:
        got[f"users?role={role}"] = crawl(api, "users", params={"role": role}, limit=limit)
    return got


class ListingTokenSource:
    """Re-reads the app's token listing after a 401, as production does for rotated tokens."""

    def __init__(self, oauth: CleverOAuth, district_id: str, token: str) -> None:
        self._oauth = oauth
        self._district_id = district_id
        self._token = token
        self._lock = threading.Lock()
        self.lookups = 0

    def current(self) -> str:
        with self._lock:
            return self._token

    def replace_rejected(self, rejected: str) -> str:
        with self._lock:
            if self._token != rejected:  # another thread already found the replacement
                return self._token
            self.lookups += 1
            fresh = [
                t.access_token
                for t in self._oauth.district_tokens(self._district_id)
                if t.access_token != rejected
            ]
            if not fresh:
                raise NeedsReauth("district token revoked")
            self._token = fresh[0]
            return self._token


# -- pagination ------------------------------------------------------------------------------------


def test_full_crawl_of_every_resource_with_limit_10000(sim: SimulatorHandle) -> None:
    want = expected(sim)
    with api_for(sim) as api:
        got = crawl_all(api)
    assert {name: by_id(objs) for name, objs in got.items()} == want
    assert all(got[name] == by_id(got[name]) for name in got), "pages come in ascending id order"
    assert any(section.get("students") for section in sim.snapshot(sim.district.id)["sections"])
    assert not any("students" in section for section in got["sections"])
    log = data_requests(sim)
    # Each resource fits in one page: one request each, all asking for 10,000.
    assert len(log) == len(want)
    assert all(dict(r["query"])["limit"] == "10000" and r["status"] == 200 for r in log)


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_full_crawl_with_small_limits_matches(sim: SimulatorHandle, limit: int) -> None:
    want = expected(sim)
    with api_for(sim) as api:
        got = crawl_all(api, limit=limit) if limit > 1 else {"terms": crawl(api, "terms", limit=1)}
    for name, objs in got.items():
        assert objs == want[name], name
    log = data_requests(sim)
    pages = sum(-(-len(want[name]) // limit) for name in got)
    assert len(log) == pages
    assert all(dict(r["query"])["limit"] == str(limit) for r in log)
    staff_queries = [dict(r["query"]).get("role") for r in log if r["path"].endswith("/users")]
    assert set(staff_queries) <= set(STAFF_USER_ROLES)


def test_resume_from_a_saved_next_url(sim: SimulatorHandle) -> None:
    want = expected(sim)["sections"]
    with api_for(sim) as api:
        pages = api.iter_pages("sections", limit=60)
        first, second = next(pages), next(pages)
        checkpoint = second.next_url
        assert checkpoint is not None
        sim.clear_requests()
        rest = crawl(api, "sections", limit=60, start_url=checkpoint)
    assert first.items + second.items + rest == want
    resumed = data_requests(sim)
    assert parse_qs(urlsplit(checkpoint).query)["starting_after"] == [second.items[-1]["id"]]
    assert dict(resumed[0]["query"])["starting_after"] == second.items[-1]["id"]


def test_get_and_district(sim: SimulatorHandle) -> None:
    snap = sim.snapshot()
    school = snap["schools"][0]
    with api_for(sim) as api:
        assert api.get(f"schools/{school['id']}") == school
        assert api.district() == snap["district"]
        with pytest.raises(CleverNotFound):
            api.get("schools/000000000000000000000000")
    assert len(data_requests(sim)) == 3


def test_limit_over_10000_is_a_413_that_is_not_retried(sim: SimulatorHandle) -> None:
    with api_for(sim) as api:
        with pytest.raises(ValueError):
            api.iter_pages("users", limit=10_001)
        assert data_requests(sim) == []
        # A saved URL carrying a bad limit reaches the server: Clever's 413 must not be retried.
        with pytest.raises(CleverLimitTooLarge) as info:
            crawl(api, "users", start_url="/v3.0/users?role=teacher&limit=20000")
    assert info.value.status == 413
    assert info.value.request_id
    assert [r["status"] for r in data_requests(sim)] == [413]


# -- rate limits and faults ------------------------------------------------------------------------


def test_429s_in_a_short_window_slow_the_crawl_but_do_not_break_it(sim: SimulatorHandle) -> None:
    want = expected(sim)["sections"]
    token = sim.district.token
    sim.set_rate_limit(4, 1.0)
    # Another consumer of the same token has just used up the window.
    for _ in range(5):
        sim.api("/v3.0/terms", limit=1)
    started = time.monotonic()
    with api_for(sim) as api:
        got = crawl(api, "sections", limit=40)
    assert time.monotonic() - started < NOT_ENDLESS
    assert got == want
    log = [r for r in data_requests(sim) if r["path"] == "/v3.0/sections" and r["token"] == token]
    statuses = [r["status"] for r in log]
    assert 429 in statuses
    assert statuses.count(200) == -(-len(want) // 40)
    assert set(statuses) == {200, 429}


def test_two_crawls_sharing_a_token_under_a_tight_limit(sim: SimulatorHandle) -> None:
    want = expected(sim)["sections"]
    sim.set_rate_limit(3, 1.0)
    results: dict[int, list[dict[str, Any]]] = {}

    def run(n: int) -> None:
        with api_for(sim) as api:
            results[n] = crawl(api, "sections", limit=80)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(NOT_ENDLESS)
    assert results == {0: want, 1: want}
    assert 429 in {r["status"] for r in data_requests(sim)}


def test_injected_5xx_are_retried_and_the_result_is_identical(sim: SimulatorHandle) -> None:
    want = expected(sim)["sections"]
    sim.set_faults(fail_next=[500, 502, 503, 503])
    with api_for(sim) as api:
        got = crawl(api, "sections", limit=50)
    assert got == want
    statuses = [r["status"] for r in data_requests(sim)]
    assert statuses[:4] == [500, 502, 503, 503]
    assert statuses[4:] == [200] * -(-len(want) // 50)


def test_random_errors_and_latency_are_survived(sim: SimulatorHandle) -> None:
    want = expected(sim)
    sim.set_faults(error_rate=0.3, latency_ms=15, seed=3)
    with api_for(sim, max_retries=10) as api:
        got = {name: crawl(api, name, limit=60) for name in ("sections", "schools", "terms")}
        got["users?role=teacher"] = crawl(api, "users", params={"role": "teacher"}, limit=25)
    for name, objs in got.items():
        assert objs == want[name], name
    statuses = [r["status"] for r in data_requests(sim)]
    assert {500, 502, 503} & set(statuses)
    assert set(statuses) <= {200, 500, 502, 503}


def test_stalled_responses_time_out_and_are_retried(sim: SimulatorHandle) -> None:
    want = expected(sim)["terms"]
    sim.set_faults(stall_rate=0.4, stall_seconds=3.0, seed=5)
    sent: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.url.path)]})
    started = time.monotonic()
    with client, api_for(sim, client=client, timeout=FAST_TIMEOUT, max_retries=10) as api:
        got = crawl(api, "terms", limit=2)
    assert got == want
    assert time.monotonic() - started < NOT_ENDLESS
    # The stalled requests timed out on the client and were sent again (the server log only sees
    # them once the stall ends, so count on the client side).
    assert len(sent) > -(-len(want) // 2)


def test_persistent_errors_end_in_clever_unavailable_after_max_retries(sim: SimulatorHandle) -> None:
    sim.set_faults(fail_next=[503] * 10)
    with api_for(sim, max_retries=3) as api, pytest.raises(CleverUnavailable) as info:
        crawl(api, "schools")
    assert info.value.status == 503
    assert [r["status"] for r in data_requests(sim)] == [503] * 4


# -- tokens ----------------------------------------------------------------------------------------


def test_rotated_token_is_found_in_the_listing_after_a_401(sim: SimulatorHandle) -> None:
    district = sim.districts[1]
    old = district.token
    assert old is not None
    want = expected(sim, district)["schools"]
    new = sim.rotate_token(district.id)
    sim.clear_requests()
    with oauth_for(sim) as oauth:
        tokens = ListingTokenSource(oauth, district.id, old)
        with CleverApi(sim.base_url, tokens) as api:
            assert crawl(api, "schools") == want
            assert crawl(api, "terms")  # later calls use the new token directly
    assert tokens.lookups == 1
    assert tokens.current() == new
    log = sim.requests()
    data = [(r["token"], r["status"]) for r in log if r["path"].startswith("/v3.")]
    assert data == [(old, 401), (new, 200), (new, 200)]
    listing = [r for r in log if r["path"] == "/oauth/tokens"]
    assert len(listing) == 1
    assert dict(listing[0]["query"]) == {"owner_type": "district", "district": district.id}


def test_revoked_token_ends_in_needs_reauth_quickly(sim: SimulatorHandle) -> None:
    district = sim.districts[2]
    old = district.token
    assert old is not None
    sim.revoke_token(district.id)
    sim.clear_requests()
    started = time.monotonic()
    with oauth_for(sim) as oauth, CleverApi(sim.base_url, ListingTokenSource(oauth, district.id, old)) as api:
        with pytest.raises(NeedsReauth):
            crawl(api, "users", params={"role": "staff"})
        assert oauth.district_tokens(district.id) == []
    assert time.monotonic() - started < NOT_ENDLESS
    log = sim.requests()
    assert [r["status"] for r in log if r["path"].startswith("/v3.")] == [401]
    assert len([r for r in log if r["path"] == "/oauth/tokens"]) == 2


# -- OAuth -----------------------------------------------------------------------------------------


def test_oauth_authorize_exchange_me_and_district_tokens(sim: SimulatorHandle) -> None:
    district = sim.district
    redirect = "http://localhost:9/clever/callback"
    with oauth_for(sim) as oauth:
        url = oauth.authorize_url(redirect, "state-123", district_id=district.id)
        answer = httpx.get(url, follow_redirects=False, timeout=FAST_TIMEOUT)
        assert answer.status_code in (302, 303, 307)
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
        query = parse_qs(location.query)
        assert query["state"] == ["state-123"]
        code = query["code"][0]

        user_token = oauth.exchange_code(code, redirect)
        me = oauth.me(user_token)
        assert me.district_id == district.id
        assert me.user_type == "district_admin"
        assert me.user_id in {u["id"] for u in sim.snapshot()["users_by_role"]["district_admin"]}

        with pytest.raises(CleverBadRequest) as info:
            oauth.exchange_code(code, redirect)
        assert "invalid code" in info.value.message.lower()

        listed = oauth.district_tokens(district.id)
        assert [(t.district_id, t.access_token) for t in listed] == [(district.id, district.token)]
        assert listed[0].scopes
        everyone = {t.district_id for t in oauth.district_tokens()}
        assert district.id in everyone

        info_body = oauth.tokeninfo(listed[0].access_token)
        assert info_body["client_id"] == sim.client_id


# -- events ----------------------------------------------------------------------------------------


def test_events_latest_id_iteration_and_expired_cursor(sim: SimulatorHandle) -> None:
    district = sim.districts[3]
    snap = sim.snapshot(district.id)
    with api_for(sim, district) as api:
        cursor = api.latest_event_id()
        assert cursor is not None
        teachers = snap["users_by_role"]["teacher"][:3]
        results = sim.mutate(
            district.id,
            *[
                {"op": "update", "resource": "users", "id": u["id"], "data": {"name": {"middle": f"Q{i}"}}}
                for i, u in enumerate(teachers)
            ],
            {"op": "update", "resource": "schools", "id": snap["schools"][0]["id"], "data": {"phone": "555"}},
        )
        event_ids = [r["event_id"] for r in results]
        assert api.latest_event_id() == event_ids[-1]

        users_only = [e for p in api.iter_events(cursor, ["users"], limit=2) for e in p.items]
        assert [e["id"] for e in users_only] == event_ids[:3]
        assert all(e["type"] == "users.updated" for e in users_only)
        assert [e["data"]["object"]["id"] for e in users_only] == [u["id"] for u in teachers]
        both = [e["id"] for p in api.iter_events(cursor, ["users", "schools"]) for e in p.items]
        assert both == event_ids
        assert [e for p in api.iter_events(event_ids[-1], ["users"]) for e in p.items] == []

        record_types = [
            [v for k, v in r["query"] if k == "record_type"]
            for r in data_requests(sim)
            if r["path"].endswith("/events") and dict(r["query"]).get("starting_after")
        ]
        assert ["users"] in record_types and ["users", "schools"] in record_types

        sim.expire_events(district.id, all=True)
        with pytest.raises(CleverNotFound):
            list(api.iter_events(cursor, ["users"]))
        assert api.latest_event_id() is None
