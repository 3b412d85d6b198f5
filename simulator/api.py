"""Clever Data + Events API v3.0 (also served as /v3.1): bearer auth, rate limit, faults, pagination."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.collection import Page, dumps, paginate
from simulator.district import ROLES
from simulator.scopes import Grant, is_private
from simulator.state import SimulatorState
from simulator.store import RECORD_TYPES, RESOURCES, DistrictStore
from simulator.tokens import Principal

VERSIONS: tuple[str, ...] = ("v3.0", "v3.1")
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
CURSOR_PARAMS = frozenset({"starting_after", "ending_before"})
Handler = Callable[[Request, DistrictStore, Principal, str], Awaitable[Response]]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def json_response(body: bytes | dict[str, Any], status: int = 200) -> Response:
    raw = body if isinstance(body, bytes) else dumps(body)
    return Response(raw, status_code=status, media_type="application/json; charset=utf-8")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def parse_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, "limit must be an integer") from None
    if limit > MAX_LIMIT:
        raise ApiError(413, f"Request entity too large: your limit parameter may be over {MAX_LIMIT}")
    if limit < 1:
        raise ApiError(400, "limit must be a positive integer")
    return limit


def page_links(
    request: Request, first: str | None, last: str | None, more_after: bool, more_before: bool
) -> list[dict[str, str]]:
    """Relative links with the version prefix; other params (limit, role, record_type) preserved in order."""
    path, qs = request.url.path, request.url.query
    links = [{"rel": "self", "uri": f"{path}?{qs}" if qs else path}]
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in CURSOR_PARAMS]
    if more_before and first is not None:
        links.append({"rel": "prev", "uri": f"{path}?{urlencode([*kept, ('ending_before', first)])}"})
    if more_after and last is not None:
        links.append({"rel": "next", "uri": f"{path}?{urlencode([*kept, ('starting_after', last)])}"})
    return links


def list_body(items: list[bytes], links: list[dict[str, str]]) -> bytes:
    return b'{"data":[' + b",".join(items) + b'],"links":' + dumps(links) + b"}"


def item(blob: bytes, uri: str) -> bytes:
    # Recorded responses carry an item-level "uri" next to "data"; the spec's *Response definitions omit it.
    return b'{"data":' + blob + b',"uri":"' + uri.encode() + b'"}'


def single(obj: dict[str, Any] | bytes, uri: str) -> Response:
    raw = obj if isinstance(obj, bytes) else dumps(obj)
    return json_response(b'{"data":' + raw + b',"links":' + dumps([{"rel": "self", "uri": uri}]) + b"}")


def served_private(request: Request, count: int) -> None:
    """Count student/contact objects in this answer; the request log records the total."""
    if count:
        request.state.student_objects = getattr(request.state, "student_objects", 0) + count


def _district_only(principal: Principal) -> None:
    if principal.kind != "district":
        raise ApiError(403, "Resource not in token's scopes")


def make_list_handler(resource: str) -> Handler:
    async def handler(request: Request, store: DistrictStore, principal: Principal, version: str) -> Response:
        _district_only(principal)
        limit = parse_limit(request)
        coll = store.collections[resource]
        role = request.query_params.get("role") or None
        grant: Grant = request.state.grant
        if resource == "users" and role is not None and role not in ROLES:
            raise ApiError(400, f"role must be one of {', '.join(ROLES)}")
        if resource == "users" and grant.hides_role(role):
            raise ApiError(403, "Resource not in token's scopes")
        ids = coll.id_list(role)
        if resource == "users" and role is None and grant.hidden:
            ids = [i for i in ids if not grant.hides(coll.roles_of(i))]
        page: Page = paginate(
            ids,
            limit,
            request.query_params.get("starting_after"),
            request.query_params.get("ending_before"),
        )
        prefix = f"/{version}/{resource}/"
        blobs = coll.blobs
        items = [item(blobs[i], prefix + i) for i in page.ids]
        if resource == "users":
            served_private(request, sum(is_private(coll.roles_of(i)) for i in page.ids))
        first, last = (page.ids[0], page.ids[-1]) if page.ids else (None, None)
        return json_response(
            list_body(items, page_links(request, first, last, page.more_after, page.more_before))
        )

    return handler


def make_get_handler(resource: str) -> Handler:
    async def handler(request: Request, store: DistrictStore, principal: Principal, version: str) -> Response:
        obj_id = request.path_params["id"]
        # SSO user tokens may read only their own user record.
        if principal.kind != "district" and not (resource == "users" and obj_id == principal.user_id):
            raise ApiError(403, "Resource not in token's scopes")
        coll = store.collections[resource]
        blob = coll.blobs.get(obj_id)
        roles = coll.roles_of(obj_id) if resource == "users" else ()
        if blob is None or request.state.grant.hides(roles):
            raise ApiError(404, "Resource not found")
        served_private(request, int(is_private(roles)))
        return single(blob, f"/{version}/{resource}/{obj_id}")

    return handler


async def districts_list(
    request: Request, store: DistrictStore, principal: Principal, version: str
) -> Response:
    _district_only(principal)
    uri = f"/{version}/districts/{store.id}"
    return json_response(
        list_body([item(dumps(store.district), uri)], page_links(request, None, None, False, False))
    )


async def district_get(
    request: Request, store: DistrictStore, principal: Principal, version: str
) -> Response:
    if request.path_params["id"] != store.id:
        raise ApiError(404, "Resource not found")
    return single(store.district, f"/{version}/districts/{store.id}")


async def me(request: Request, store: DistrictStore, principal: Principal, version: str) -> Response:
    links = [{"rel": "self", "uri": "/me"}]
    if principal.kind == "district":
        links.append({"rel": "canonical", "uri": f"/{version}/districts/{store.id}"})
        return json_response(
            {
                "type": "district",
                "data": {"id": store.id, "district": store.id, "type": "district"},
                "links": links,
            }
        )
    user = store.collections["users"].get(principal.user_id or "") or {"roles": {}}
    role = next((r for r in ROLES if r in user["roles"]), "user")
    links += [
        {"rel": "canonical", "uri": f"/{version}/users/{principal.user_id}"},
        {"rel": "district", "uri": f"/{version}/districts/{store.id}"},
    ]
    return json_response(
        {
            "type": "user",
            "data": {
                "id": principal.user_id,
                "district": store.id,
                "type": role,
                "authorized_by": "district",
            },
            "links": links,
        }
    )


def _events_enabled(store: DistrictStore) -> None:
    # Clever does not document the answer for an app without events; 403 with a message mirrors its
    # "resource not in token's scopes" answers and lets clients tell it apart from an expired cursor (404).
    if not store.events_enabled:
        raise ApiError(403, "Events are not enabled for this application")


async def events_list(request: Request, store: DistrictStore, principal: Principal, version: str) -> Response:
    _district_only(principal)
    _events_enabled(store)
    limit = parse_limit(request)
    params = request.query_params
    types = set(params.getlist("record_type")) | set(params.getlist("record_type[]"))
    unknown = types - set(RECORD_TYPES)
    if unknown:
        raise ApiError(400, f"invalid record_type {sorted(unknown)}; valid: {', '.join(RECORD_TYPES)}")
    after, before = params.get("starting_after"), params.get("ending_before")
    # A cursor that is not (or no longer) in the feed -- e.g. older than 30 days -- is a 404.
    for cursor in (after, before):
        if cursor and cursor != "last" and not store.has_event(cursor):
            raise ApiError(404, f"Event {cursor} not found")
    events, more_after, more_before = store.event_page(
        limit,
        after or None,
        before or None,
        types or None,
        params.get("school") or None,
        request.state.grant.hidden,
    )
    served_private(request, sum(is_private(ev.roles) for ev in events))
    prefix = f"/{version}/events/"
    items = [item(ev.blob, prefix + ev.id) for ev in events]
    first, last = (events[0].id, events[-1].id) if events else (None, None)
    return json_response(list_body(items, page_links(request, first, last, more_after, more_before)))


async def event_get(request: Request, store: DistrictStore, principal: Principal, version: str) -> Response:
    _district_only(principal)
    _events_enabled(store)
    event = store.get_event(request.path_params["id"])
    if event is None or request.state.grant.hides(event.roles):
        raise ApiError(404, "Resource not found")
    served_private(request, int(is_private(event.roles)))
    return single(event.blob, f"/{version}/events/{event.id}")


def wrap(state: SimulatorState, handler: Handler, version: str) -> Callable[[Request], Awaitable[Response]]:
    """Auth -> rate limit -> faults -> handler, with Clever's headers on every answer."""

    async def endpoint(request: Request) -> Response:
        headers = {
            "clever-request-id": uuid.uuid4().hex,
            "x-request-id": str(uuid.uuid4()),
            "cache-control": "no-store",
        }
        token = bearer_token(request)
        principal = state.auth.resolve(token) if token else None
        store = state.districts.get(principal.district_id) if principal else None
        if token is None or principal is None or store is None:
            return _with(json_response({"message": "Invalid auth"}, 401), headers)
        decision = state.limiter.hit(token)
        headers.update(decision.headers())
        if not decision.allowed:
            return _with(Response(b"", status_code=429), headers)  # Clever: empty body, no Retry-After
        fault = state.faults.decide()
        if fault.delay_seconds > 0:
            await asyncio.sleep(fault.delay_seconds)
        if fault.status is not None:
            return _with(json_response({"message": "Internal error (injected fault)"}, fault.status), headers)
        request.state.grant = state.grant_of(principal)
        try:
            response = await handler(request, store, principal, version)
        except ApiError as exc:
            response = json_response({"message": exc.message}, exc.status)
        return _with(response, headers)

    return endpoint


def _with(response: Response, headers: dict[str, str]) -> Response:
    for key, value in headers.items():
        response.headers[key] = value
    return response


def routes(state: SimulatorState) -> list[Route]:
    out: list[Route] = []
    for version in VERSIONS:
        table: list[tuple[str, Handler]] = [
            ("/districts", districts_list),
            ("/districts/{id}", district_get),
            ("/me", me),
            ("/events", events_list),
            ("/events/{id}", event_get),
        ]
        for resource in RESOURCES:
            table += [
                (f"/{resource}", make_list_handler(resource)),
                (f"/{resource}/{{id}}", make_get_handler(resource)),
            ]
        out += [
            Route(f"/{version}{path}", wrap(state, handler, version), methods=["GET"])
            for path, handler in table
        ]
    out.append(
        Route("/me", wrap(state, me, VERSIONS[0]), methods=["GET"])
    )  # Clever also serves unversioned /me
    return out
