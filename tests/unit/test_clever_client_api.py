"""Data and Events API of ``CleverApi`` over ``httpx.MockTransport``: paging, resume, events, samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from clever_client import CleverApi, CleverError, CleverNotFound, StaticTokenSource

BASE = "http://clever.local:9999"
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "clever_samples"


class PagedServer:
    """A tiny in-memory Clever list endpoint: ``starting_after`` cursors, ``limit``, ``next`` links."""

    def __init__(self, collections: dict[str, list[dict[str, Any]]], *, keep_params: bool = True) -> None:
        self.collections = collections
        self.keep_params = keep_params
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = request.url.path.split("/", 2)[2]  # drop the version segment
        rows = self.collections.get(name)
        if rows is None:
            return httpx.Response(404, json={"message": "Resource not found"})
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        limit = int(query.get("limit", ["100"])[0])
        if limit > 10_000:
            return httpx.Response(413, json={"message": "limit too large"})
        if "record_type" in query:
            rows = [r for r in rows if r["type"].split(".")[0] in query["record_type"]]
        after = query.get("starting_after", [None])[0]
        start = 0 if after is None else next(i for i, r in enumerate(rows) if r["id"] == after) + 1
        chunk = rows[start : start + limit]
        links = [{"rel": "self", "uri": str(request.url.raw_path.decode())}]
        if chunk:
            extra = f"&limit={limit}" if self.keep_params else ""
            links.append({"rel": "next", "uri": f"/v3.0/{name}?starting_after={chunk[-1]['id']}{extra}"})
        body = {"data": [{"data": r, "uri": f"/v3.0/{name}/{r['id']}"} for r in chunk], "links": links}
        return httpx.Response(200, json=body, headers={"clever-request-id": f"rid-{len(self.requests)}"})


def rows(n: int, prefix: str = "s") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i:04d}", "name": f"row {i}"} for i in range(n)]


def events(types: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"e{i:04d}",
            "type": t,
            "created": "2024-01-01T00:00:00.000Z",
            "data": {"object": {"id": f"o{i}"}},
        }
        for i, t in enumerate(types)
    ]


def api_for(server: Any) -> CleverApi:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return CleverApi(BASE, StaticTokenSource("tok"), client=client, sleep=lambda s: None)


def query_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


# -- iter_pages ------------------------------------------------------------------------------------


def test_iter_pages_sends_limit_and_params_and_collects_everything() -> None:
    server = PagedServer({"users": rows(25, "u")})
    api = api_for(server)
    pages = list(api.iter_pages("users", params={"role": "staff"}, limit=10))
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [i["id"] for p in pages for i in p.items] == [r["id"] for r in rows(25, "u")]
    # Three full pages plus the empty page that proves the end.
    assert len(server.requests) == 4
    assert all(query_of(r)["role"] == ["staff"] and query_of(r)["limit"] == ["10"] for r in server.requests)
    assert pages[0].url == f"{BASE}/v3.0/users?role=staff&limit=10"
    assert pages[0].next_url == "/v3.0/users?starting_after=u0009&limit=10"
    assert pages[0].request_id == "rid-1"


def test_limit_10000_is_default_and_one_page_suffices() -> None:
    server = PagedServer({"sections": rows(300)})
    pages = list(api_for(server).iter_pages("sections"))
    assert len(pages) == 1 and len(pages[0].items) == 300
    assert query_of(server.requests[0])["limit"] == ["10000"]


def test_stops_on_missing_next_link_without_extra_request() -> None:
    body = {"data": [{"data": {"id": "t1"}}], "links": [{"rel": "self", "uri": "/v3.0/terms"}]}
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=body)

    pages = list(api_for(handler).iter_pages("terms"))
    assert [p.next_url for p in pages] == [None]
    assert len(requests) == 1


def test_empty_collection_yields_no_pages() -> None:
    assert list(api_for(PagedServer({"terms": []})).iter_pages("terms")) == []


def test_params_dropped_by_next_links_are_restored() -> None:
    server = PagedServer({"users": rows(7, "u")}, keep_params=False)
    ids = [
        i["id"]
        for p in api_for(server).iter_pages("users", params={"role": "teacher"}, limit=3)
        for i in p.items
    ]
    assert len(ids) == 7
    assert all(query_of(r)["limit"] == ["3"] and query_of(r)["role"] == ["teacher"] for r in server.requests)


def test_resume_from_start_url_continues_where_the_checkpoint_was() -> None:
    server = PagedServer({"users": rows(20, "u")})
    api = api_for(server)
    first = next(api.iter_pages("users", limit=8))
    assert first.next_url is not None
    rest = [i["id"] for p in api.iter_pages("users", limit=8, start_url=first.next_url) for i in p.items]
    assert [i["id"] for i in first.items] + rest == [r["id"] for r in rows(20, "u")]
    # An absolute start URL on the same host works too.
    again = [
        i["id"] for p in api.iter_pages("users", limit=8, start_url=BASE + first.next_url) for i in p.items
    ]
    assert again == rest


def test_limit_over_10000_is_rejected_before_any_request() -> None:
    server = PagedServer({"users": rows(1)})
    with pytest.raises(ValueError):
        api_for(server).iter_pages("users", limit=10_001)
    assert server.requests == []


def test_repeating_next_link_is_an_error_not_a_hang() -> None:
    body = {"data": [{"data": {"id": "x"}}], "links": [{"rel": "next", "uri": "/v3.0/schools?limit=10000"}]}
    api = api_for(lambda request: httpx.Response(200, json=body))
    with pytest.raises(CleverError, match="loop"):
        list(api.iter_pages("schools"))


def test_next_link_to_another_host_is_refused() -> None:
    body = {
        "data": [{"data": {"id": "x"}}],
        "links": [{"rel": "next", "uri": "https://elsewhere.example/v3.0/x"}],
    }
    api = api_for(lambda request: httpx.Response(200, json=body))
    with pytest.raises(CleverError):
        list(api.iter_pages("schools"))


# -- single objects --------------------------------------------------------------------------------


def test_get_unwraps_data_and_accepts_versioned_paths() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"data": {"id": "s1"}, "links": [{"rel": "self", "uri": "/x"}]})

    api = api_for(handler)
    assert api.get("schools/s1") == {"id": "s1"}
    assert api.get("/schools/s1") == {"id": "s1"}
    assert api.get("/v3.0/schools/s1") == {"id": "s1"}
    assert seen == ["/v3.0/schools/s1"] * 3


def test_version_is_configurable() -> None:
    server = PagedServer({"terms": rows(1, "t")})
    client = httpx.Client(transport=httpx.MockTransport(server))
    api = CleverApi(BASE, StaticTokenSource("tok"), version="v3.1", client=client)
    list(api.iter_pages("terms"))
    assert server.requests[0].url.path == "/v3.1/terms"


def test_district_returns_first_item_and_empty_is_not_found() -> None:
    assert api_for(PagedServer({"districts": [{"id": "d1"}]})).district() == {"id": "d1"}
    with pytest.raises(CleverNotFound):
        api_for(PagedServer({"districts": []})).district()


# -- events ----------------------------------------------------------------------------------------


def test_iter_events_filters_by_repeated_record_type_and_cursor() -> None:
    feed = events(
        ["users.updated", "districts.updated", "sections.created", "users.deleted", "terms.updated"]
    )
    server = PagedServer({"events": feed})
    pages = list(api_for(server).iter_events("e0000", ["users", "sections"], limit=2))
    got = [e for p in pages for e in p.items]
    assert [e["id"] for e in got] == ["e0002", "e0003"]
    assert got[0] == feed[2]
    first = query_of(server.requests[0])
    assert first["record_type"] == ["users", "sections"]
    assert first["starting_after"] == ["e0000"]
    assert first["limit"] == ["2"]
    # Later pages keep the filter even though the fake's next links carry only cursor and limit.
    assert all(query_of(r)["record_type"] == ["users", "sections"] for r in server.requests)


def test_iter_events_without_cursor_starts_at_the_oldest() -> None:
    server = PagedServer({"events": events(["users.created", "users.updated"])})
    got = [e["id"] for p in api_for(server).iter_events(None, ["users"]) for e in p.items]
    assert got == ["e0000", "e0001"]
    assert "starting_after" not in query_of(server.requests[0])
    assert query_of(server.requests[0])["limit"] == ["1000"]


def test_iter_events_expired_cursor_is_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "Resource not found"})

    with pytest.raises(CleverNotFound):
        list(api_for(handler).iter_events("gone", ["users"]))


def test_latest_event_id_uses_ending_before_last() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"data": [{"data": {"id": "e9", "type": "users.updated"}}], "links": []}
        return httpx.Response(200, json=body)

    assert api_for(handler).latest_event_id() == "e9"
    assert len(seen) == 1
    assert query_of(seen[0]) == {"ending_before": ["last"], "limit": ["1"]}


@pytest.mark.parametrize("code", [400, 404])
def test_latest_event_id_falls_back_to_paging_the_feed(code: int) -> None:
    inner = PagedServer({"events": events(["users.updated"] * 5)})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("ending_before") == "last":
            inner.requests.append(request)
            return httpx.Response(code, json={"message": "bad ending_before"})
        return inner(request)

    assert api_for(handler).latest_event_id() == "e0004"


def test_latest_event_id_of_an_empty_feed_is_none() -> None:
    assert api_for(PagedServer({"events": []})).latest_event_id() is None

    def reject_last(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("ending_before") == "last":
            return httpx.Response(400, json={"message": "no"})
        return PagedServer({"events": []})(request)

    assert api_for(reject_last).latest_event_id() is None


# -- recorded real responses -----------------------------------------------------------------------


def load_cassette(name: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    data = yaml.safe_load((SAMPLES / f"{name}.yml").read_text())
    interaction = data["http_interactions"][0]
    headers = {k: v[0] for k, v in interaction["response"]["headers"].items()}
    return interaction["request"]["uri"], json.loads(interaction["response"]["body"]["string"]), headers


class CassetteServer:
    """Serves the recorded first page of each resource; anything past it is an empty page."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = request.url.path.removeprefix("/v3.0/")
        _, body, headers = load_cassette(name)
        if request.url.params.get("starting_after"):
            return httpx.Response(200, json={"data": [], "links": []})
        headers = {k: v for k, v in headers.items() if k not in ("content-length", "content-encoding")}
        return httpx.Response(200, json=body, headers={**headers, "clever-request-id": "rec"})


def _without_student_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_student_ids(v)
            for k, v in value.items()
            if not (k == "students" and isinstance(v, list) and all(isinstance(i, str) for i in v))
        }
    if isinstance(value, list):
        return [_without_student_ids(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("resource", "count", "has_next"),
    [
        ("districts", 1, False),
        ("schools", 4, False),
        ("terms", 5, False),
        ("sections", 100, True),
        ("users", 100, True),
        ("events", 100, True),
    ],
)
def test_recorded_responses_parse(resource: str, count: int, has_next: bool) -> None:
    uri, body, _ = load_cassette(resource)
    assert urlsplit(uri).path == f"/v3.0/{resource}"
    server = CassetteServer()
    pages = list(api_for(server).iter_pages(resource))
    assert len(pages[0].items) == count
    # Enrolments (arrays of student ids) are cut before the page is parsed; nothing else changes.
    assert pages[0].items == [_without_student_ids(item["data"]) for item in body["data"]]
    assert '"students"' not in json.dumps(pages[0].items)
    assert (pages[0].next_url is not None) == has_next
    # With a next link the client asks once more, gets the empty page and stops.
    assert len(server.requests) == (2 if has_next else 1)
    if has_next:
        assert server.requests[1].url.path == f"/v3.0/{resource}"
        assert server.requests[1].url.params["starting_after"]


def test_recorded_events_keep_their_envelope() -> None:
    pages = list(api_for(CassetteServer()).iter_events(None, ["users", "schools", "districts"]))
    first = pages[0].items[0]
    assert set(first) == {"id", "type", "created", "data"}
    assert first["type"].split(".")[1] in ("created", "updated", "deleted")
    assert "object" in first["data"]
    ids = [e["id"] for e in pages[0].items]
    assert ids == sorted(ids)


def test_recorded_district_and_rate_limit_headers_are_honoured() -> None:
    assert api_for(CassetteServer()).district()["id"] == "58da8a43cc70ab00017a1a87"
