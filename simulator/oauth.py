"""Clever's OAuth endpoints (clever.com/oauth/...): authorize, token exchange, token listing, tokeninfo."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from simulator import consent
from simulator.api import bearer_token, json_response
from simulator.scopes import parse_scope_param
from simulator.state import SimulatorState
from simulator.tokens import USER_SCOPES

INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid grant: invalid code"}


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _error_page(message: str) -> HTMLResponse:
    # Clever shows an HTML error page (not JSON) for a broken authorize request.
    return HTMLResponse(f"<html><body><h1>Error</h1><p>{message}</p></body></html>", status_code=400)


def routes(state: SimulatorState) -> list[Route]:
    auth = state.auth

    async def authorize(request: Request) -> Response:
        """Approve at once and redirect back with a code (or a forced error); with the consent
        screen on, a GET shows Approve / Deny and the form's POST carries the decision."""
        q: Mapping[str, str] = request.query_params
        if request.method == "POST":
            q = await consent.posted_params(request)
            if q.get("decision") not in (consent.APPROVE, consent.DENY):
                return _error_page("decision must be approve or deny")
        if q.get("client_id") != auth.client_id:
            return _error_page("Unknown client_id")
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri or q.get("response_type", "code") != "code":
            return _error_page("redirect_uri and response_type=code are required")
        extra = {"state": q["state"]} if "state" in q else {}
        if state.consent_screen and request.method == "GET":
            shown = state.districts.get(q.get("district_id") or "") or next(
                iter(state.districts.values()), None
            )
            name = shown.district.get("name") if shown is not None else None
            return consent.consent_page(dict(q), str(name or "your district"))
        if q.get("decision") == consent.DENY:
            return RedirectResponse(_with_query(redirect_uri, {"error": "access_denied", **extra}), 302)
        override = auth.pop_next_authorize() or {}
        if override.get("error"):
            return RedirectResponse(
                _with_query(redirect_uri, {"error": str(override["error"]), **extra}), 302
            )
        district_id = q.get("district_id") or override.get("district_id") or next(iter(state.districts), None)
        store = state.districts.get(district_id or "")
        if store is None:
            return _error_page("Unknown district")
        user_id = override.get("user_id")
        if user_id is None:
            admins = store.collections["users"].id_list("district_admin")
            user_id = admins[0] if admins else store.collections["users"].ids[0]
        requested = parse_scope_param(q.get("scope"))
        if requested is not None:
            # The app asked for these scopes and the admin approved: the district token carries them.
            auth.set_scopes(store.id, requested)
        code = auth.new_code(store.id, str(user_id), redirect_uri)
        return RedirectResponse(_with_query(redirect_uri, {"code": code, **extra}), 302)

    async def exchange(request: Request) -> Response:
        creds = basic_credentials(request)
        if creds is None or not auth.check_client(*creds):
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client credentials"}, 401
            )
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                return json_response({"error": "invalid_request", "error_description": "Malformed JSON"}, 400)
        else:
            body = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        if body.get("grant_type") != "authorization_code":
            return json_response(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be authorization_code",
                },
                400,
            )
        token = auth.redeem_code(str(body.get("code", "")), body.get("redirect_uri"))
        if token is None:  # unknown, reused, expired or redirect_uri mismatch
            return json_response(INVALID_GRANT, 400)
        return json_response({"access_token": token, "token_type": "bearer"})

    async def list_tokens(request: Request) -> Response:
        creds = basic_credentials(request)
        if creds is None or not auth.check_client(*creds):
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client credentials"}, 401
            )
        owner_type = request.query_params.get("owner_type", "district")
        district = request.query_params.get("district")
        tokens = (
            []
            if owner_type != "district"
            else [t.wire() for t in auth.district_tokens.values() if district in (None, "", t.district_id)]
        )
        qs = request.url.query
        self_uri = f"/oauth/tokens?{qs}" if qs else "/oauth/tokens"
        return json_response({"data": tokens, "links": [{"rel": "self", "uri": self_uri}]})

    async def tokeninfo(request: Request) -> Response:
        token = bearer_token(request)
        principal = auth.resolve(token) if token else None
        if principal is None:
            return json_response({"message": "Invalid auth"}, 401)
        if principal.kind == "district":
            scopes = list(auth.district_tokens[principal.district_id].scopes)
        else:
            scopes = list(USER_SCOPES)
        return json_response({"client_id": auth.client_id, "scopes": scopes})

    return [
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/tokens", exchange, methods=["POST"]),
        Route("/oauth/tokens", list_tokens, methods=["GET"]),
        Route("/oauth/tokeninfo", tokeninfo, methods=["GET"]),
    ]
