"""The ``/_sim/*`` control and introspection API (JSON in, JSON out). Not part of Clever."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.api import json_response
from simulator.state import SimulatorState
from simulator.store import RESOURCES, DistrictStore, MutationError
from simulator.webhook_push import WebhookTarget

Endpoint = Callable[[Request], Awaitable[Response]]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ControlError(400, f"invalid JSON: {exc}") from None


def _guard(fn: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except ControlError as exc:
            return json_response({"error": exc.message}, exc.status)
        except MutationError as exc:
            return json_response({"error": str(exc)}, 400)
        except KeyError as exc:
            return json_response({"error": f"not found: {exc.args[0] if exc.args else ''}"}, 404)
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)

    return endpoint


def apply_mutation(store: DistrictStore, op: dict[str, Any]) -> dict[str, Any]:
    """One ``{"op": create|update|delete, "resource": ..., "id": ..., "data": {...}, "unset": [...]}``."""
    kind, resource = op.get("op"), op.get("resource")
    if resource not in (*RESOURCES, "districts"):
        raise ControlError(400, f"resource must be one of {', '.join((*RESOURCES, 'districts'))}")
    data = op.get("data") or {}
    if kind == "create":
        obj, event = store.create(resource, data)
    elif kind == "update":
        obj_id = op.get("id") or (store.id if resource == "districts" else None)
        if not obj_id:
            raise ControlError(400, "update needs an id")
        obj, maybe = store.update(resource, str(obj_id), data, op.get("unset"))
        return {
            "op": kind,
            "resource": resource,
            "id": obj["id"],
            "object": obj,
            "event_id": maybe.id if maybe else None,
        }
    elif kind == "delete":
        obj, event = store.delete(resource, str(op.get("id")))
    else:
        raise ControlError(400, "op must be create, update or delete")
    return {"op": kind, "resource": resource, "id": obj["id"], "object": obj, "event_id": event.id}


def routes(state: SimulatorState) -> list[Route]:
    def district(request: Request) -> DistrictStore:
        store = state.districts.get(request.path_params["district_id"])
        if store is None:
            raise ControlError(404, "unknown district")
        return store

    def stores_for(body: dict[str, Any]) -> list[DistrictStore]:
        district_id = body.get("district_id")
        if district_id is None:
            return list(state.districts.values())
        if district_id not in state.districts:
            raise ControlError(404, "unknown district")
        return [state.districts[district_id]]

    async def health(request: Request) -> Response:
        return json_response({"ok": True})

    async def list_districts(request: Request) -> Response:
        return json_response({"districts": state.describe()})

    async def add_district(request: Request) -> Response:
        body = await _body(request)
        store = state.add_district(int(body.get("seed", state.config.seed)), int(body.get("schools", 1)))
        return json_response(
            {"id": store.id, "name": store.district.get("name"), "token": state.token_of(store.id)}
        )

    async def snapshot(request: Request) -> Response:
        return json_response(district(request).snapshot_json())

    async def rotate(request: Request) -> Response:
        store = district(request)
        token = state.auth.issue_district_token(store.id, store.seed)
        return json_response({"district_id": store.id, "token": token.access_token})

    async def revoke(request: Request) -> Response:
        store = district(request)
        return json_response({"district_id": store.id, "revoked": state.auth.revoke_district(store.id)})

    async def mutate(request: Request) -> Response:
        store, body = district(request), await _body(request)
        ops = body if isinstance(body, list) else [body]
        return json_response({"results": [apply_mutation(store, op) for op in ops]})

    async def remove_users(request: Request) -> Response:
        """Bulk removal: ``{"ids": [...]}`` or ``{"role": "teacher", "count": 5}`` (lowest ids first)."""
        store, body = district(request), await _body(request)
        ids = body.get("ids")
        if ids is None:
            role = body.get("role")
            ids = list(store.collections["users"].id_list(role))[: int(body.get("count", 1))]
        events = [store.delete("users", str(i))[1].id for i in ids]
        return json_response({"removed": list(ids), "event_ids": events})

    async def expire(request: Request) -> Response:
        body = await _body(request)
        removed = {
            s.id: s.expire_events(
                all_events=bool(body.get("all")),
                count=body.get("count"),
                keep_last=body.get("keep_last"),
                before_id=body.get("before_id"),
            )
            for s in stores_for(body)
        }
        return json_response({"removed": removed})

    async def events_config(request: Request) -> Response:
        body = await _body(request)
        for store in stores_for(body):
            store.events_enabled = bool(body.get("enabled", True))
        return json_response({"districts": {s.id: s.events_enabled for s in state.districts.values()}})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            state.log.clear()
            return json_response({"cleared": True})
        return json_response({"requests": state.log.entries()})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            state.faults.configure(**(await _body(request)))
        return json_response(state.faults.as_dict())

    async def ratelimit(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            state.limiter.configure(body.get("limit"), body.get("window"))
        return json_response({"limit": state.limiter.limit, "window": state.limiter.window})

    async def oauth_config(request: Request) -> Response:
        body = await _body(request)
        if "code_ttl" in body:
            state.auth.code_ttl = float(body["code_ttl"])
        if "consent_screen" in body:
            state.consent_screen = bool(body["consent_screen"])
        return json_response(
            {
                "code_ttl": state.auth.code_ttl,
                "client_id": state.auth.client_id,
                "consent_screen": state.consent_screen,
            }
        )

    async def oauth_next(request: Request) -> Response:
        state.auth.next_authorize = await _body(request) or None
        return json_response({"next_authorize": state.auth.next_authorize})

    async def scopes(request: Request) -> Response:
        """``{"honour": false}`` serves students and contacts to every token (over-share)."""
        if request.method == "POST":
            body = await _body(request)
            state.honour_scopes = bool(body.get("honour", True))
        tokens = {d: list(t.scopes) for d, t in state.auth.district_tokens.items()}
        return json_response({"honour": state.honour_scopes, "scopes": tokens})

    async def webhook(request: Request) -> Response:
        if request.method == "DELETE":
            state.webhook.configure(None)
            return json_response({"configured": False})
        body = await _body(request)
        if not body.get("url") or "secret" not in body:
            raise ControlError(400, "url and secret are required")
        state.webhook.configure(WebhookTarget(str(body["url"]), str(body["secret"]), body.get("district_id")))
        return json_response({"configured": True})

    async def webhook_push(request: Request) -> Response:
        """Re-push a range of existing events: ``{"district_id", "starting_after"?, "ending_before"?}``."""
        body = await _body(request)
        queued = 0
        for store in stores_for(body):
            after, before = body.get("starting_after"), body.get("ending_before")
            for event in list(store.events):
                if (after and event.id <= after) or (before and event.id >= before):
                    continue
                queued += state.webhook.enqueue(store.id, event.id, event.blob)
        return json_response({"queued": queued})

    async def deliveries(request: Request) -> Response:
        if request.method == "DELETE":
            state.webhook.clear_log()
        return json_response({"deliveries": state.webhook.log(), "pending": state.webhook.pending()})

    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/health", health, ["GET"]),
        ("/districts", list_districts, ["GET"]),
        ("/districts", add_district, ["POST"]),
        ("/districts/{district_id}/snapshot", snapshot, ["GET"]),
        ("/districts/{district_id}/tokens/rotate", rotate, ["POST"]),
        ("/districts/{district_id}/tokens/revoke", revoke, ["POST"]),
        ("/districts/{district_id}/mutate", mutate, ["POST"]),
        ("/districts/{district_id}/users/remove", remove_users, ["POST"]),
        ("/events/expire", expire, ["POST"]),
        ("/events/config", events_config, ["POST"]),
        ("/requests", requests_log, ["GET", "DELETE"]),
        ("/faults", faults, ["GET", "POST"]),
        ("/ratelimit", ratelimit, ["GET", "POST"]),
        ("/oauth", oauth_config, ["GET", "POST"]),
        ("/oauth/next", oauth_next, ["POST"]),
        ("/scopes", scopes, ["GET", "POST"]),
        ("/webhook", webhook, ["POST", "DELETE"]),
        ("/webhook/push", webhook_push, ["POST"]),
        ("/webhook/deliveries", deliveries, ["GET", "DELETE"]),
    ]
    return [Route(f"/_sim{path}", _guard(fn), methods=methods) for path, fn, methods in table]
