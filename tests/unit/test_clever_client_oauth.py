"""``CleverOAuth`` over ``httpx.MockTransport``: authorize URL, code exchange, /me, token listing."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from structlog.testing import capture_logs

from clever_client import CleverBadRequest, CleverOAuth, CleverUnauthorized, CleverUnavailable, DistrictToken
from clever_client.oauth import SCOPES, private_scopes

OAUTH = "https://clever.test"
API = "https://api.clever.test"


class Recorder:
    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.script = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        return step


def oauth_for(server: Recorder) -> CleverOAuth:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return CleverOAuth(OAUTH, API, "app-id", "app-secret", client=client, sleep=lambda s: None)


def basic_of(request: httpx.Request) -> str:
    scheme, _, value = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(value).decode()


def test_authorize_url() -> None:
    oauth = oauth_for(Recorder())
    url = oauth.authorize_url("https://app.example/cb?x=1", "st&ate", district_id="d1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{OAUTH}/oauth/authorize"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["app-id"],
        "redirect_uri": ["https://app.example/cb?x=1"],
        "state": ["st&ate"],
        "scope": [" ".join(SCOPES)],
        "district_id": ["d1"],
    }
    assert "district_id" not in oauth.authorize_url("https://app.example/cb", "s")


def test_authorize_url_asks_for_no_student_or_contact_scope() -> None:
    scope = parse_qs(urlsplit(oauth_for(Recorder()).authorize_url("https://a/cb", "s")).query)["scope"][0]
    assert "read:user_id" in scope.split()
    assert private_scopes(scope.split()) == [] and "student" not in scope and "contact" not in scope
    assert private_scopes(["read:students_basic", "read:student_contacts", "read:sections"]) == [
        "read:students_basic",
        "read:student_contacts",
    ]


def test_exchange_code_posts_json_with_basic_auth() -> None:
    server = Recorder(httpx.Response(200, json={"access_token": "user-tok", "token_type": "bearer"}))
    assert oauth_for(server).exchange_code("c0de", "https://app.example/cb") == "user-tok"
    (request,) = server.requests
    assert request.method == "POST"
    assert str(request.url) == f"{OAUTH}/oauth/tokens"
    assert basic_of(request) == "app-id:app-secret"
    assert json.loads(request.content) == {
        "code": "c0de",
        "grant_type": "authorization_code",
        "redirect_uri": "https://app.example/cb",
    }


def test_reused_code_is_bad_request_with_clevers_message() -> None:
    server = Recorder(
        httpx.Response(400, json={"error": "invalid_grant", "message": "Invalid grant: invalid code"})
    )
    with pytest.raises(CleverBadRequest) as info:
        oauth_for(server).exchange_code("used", "https://app.example/cb")
    assert "Invalid grant: invalid code" in info.value.message
    assert len(server.requests) == 1


def test_exchange_is_not_repeated_after_a_server_error() -> None:
    server = Recorder(httpx.Response(503), httpx.Response(200, json={"access_token": "x"}))
    with pytest.raises(CleverUnavailable):
        oauth_for(server).exchange_code("c", "https://app.example/cb")
    assert len(server.requests) == 1


def test_exchange_is_repeated_when_the_request_never_left() -> None:
    server = Recorder(httpx.ConnectError("refused"), httpx.Response(200, json={"access_token": "x"}))
    assert oauth_for(server).exchange_code("c", "https://app.example/cb") == "x"
    assert len(server.requests) == 2


def test_exchange_read_timeout_is_not_repeated() -> None:
    server = Recorder(httpx.ReadTimeout("slow"), httpx.Response(200, json={"access_token": "x"}))
    with pytest.raises(CleverUnavailable):
        oauth_for(server).exchange_code("c", "https://app.example/cb")
    assert len(server.requests) == 1


def test_me_reads_the_recorded_shape() -> None:
    body = {
        "type": "user",
        "data": {
            "id": "5faac8b7bc447500a10ae857",
            "district": "58da8a43cc70ab00017a1a87",
            "type": "teacher",
            "authorized_by": "district",
        },
        "links": [{"rel": "self", "uri": "/me"}],
    }
    server = Recorder(httpx.Response(200, json=body))
    me = oauth_for(server).me("user-tok")
    assert (me.user_id, me.district_id, me.user_type) == (
        "5faac8b7bc447500a10ae857",
        "58da8a43cc70ab00017a1a87",
        "teacher",
    )
    assert str(server.requests[0].url) == f"{API}/v3.0/me"
    assert server.requests[0].headers["authorization"] == "Bearer user-tok"


def test_me_with_a_bad_user_token_is_unauthorized_not_reauth() -> None:
    server = Recorder(httpx.Response(401, json={"message": "Invalid auth"}))
    with pytest.raises(CleverUnauthorized):
        oauth_for(server).me("bad")
    assert len(server.requests) == 1


def token_entry(token_id: str, district: str, secret: str) -> dict[str, object]:
    return {
        "id": token_id,
        "created": "2022-06-23T21:56:32.335Z",
        "owner": {"type": "district", "id": district},
        "access_token": secret,
        "scopes": ["read:district_admins_basic", "read:user_id"],
    }


def test_district_tokens_lists_and_filters() -> None:
    body = {
        "data": [token_entry("t1", "d1", "secret-1"), token_entry("t2", "d2", "secret-2")],
        "links": [{"rel": "self", "uri": "/oauth/tokens?owner_type=district"}],
    }
    server = Recorder(httpx.Response(200, json=body))
    oauth = oauth_for(server)
    everything = oauth.district_tokens()
    assert everything == [
        DistrictToken("t1", "d1", "secret-1", ("read:district_admins_basic", "read:user_id")),
        DistrictToken("t2", "d2", "secret-2", ("read:district_admins_basic", "read:user_id")),
    ]
    assert "secret-1" not in repr(everything)
    assert parse_qs(server.requests[0].url.query.decode()) == {"owner_type": ["district"]}
    assert basic_of(server.requests[0]) == "app-id:app-secret"
    only = oauth.district_tokens("d2")
    assert [t.id for t in only] == ["t2"]
    assert parse_qs(server.requests[1].url.query.decode()) == {"owner_type": ["district"], "district": ["d2"]}


def test_district_tokens_follows_next_links() -> None:
    first = {
        "data": [token_entry("t1", "d1", "s1")],
        "links": [{"rel": "next", "uri": "/oauth/tokens?owner_type=district&starting_after=t1"}],
    }
    second = {"data": [token_entry("t2", "d2", "s2")], "links": []}
    server = Recorder(httpx.Response(200, json=first), httpx.Response(200, json=second))
    assert [t.id for t in oauth_for(server).district_tokens()] == ["t1", "t2"]
    assert str(server.requests[1].url) == f"{OAUTH}/oauth/tokens?owner_type=district&starting_after=t1"


def test_tokeninfo_uses_bearer() -> None:
    server = Recorder(httpx.Response(200, json={"client_id": "app-id", "scopes": ["read:sis"]}))
    assert oauth_for(server).tokeninfo("tok") == {"client_id": "app-id", "scopes": ["read:sis"]}
    assert server.requests[0].headers["authorization"] == "Bearer tok"
    assert server.requests[0].url.path == "/oauth/tokeninfo"


def test_oauth_logs_carry_no_secrets_or_codes() -> None:
    server = Recorder(httpx.Response(400, json={"message": "Invalid grant: invalid code"}))
    with capture_logs() as logs, pytest.raises(CleverBadRequest):
        oauth_for(server).exchange_code("code-xyz", "https://app.example/cb")
    dumped = repr(logs)
    assert logs
    for secret in ("app-secret", "code-xyz", "app.example"):
        assert secret not in dumped
