"""The OpenAPI document: built from the contract and the app's route table, every route in it,
a route without an entry refused, every schema a valid JSON Schema, real answers matching it, and
the /docs page rendering it without any script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import Field, create_model
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from test_gateway_support import DISTRICT, Harness

from gateway import query_models
from gateway.contract import OPERATIONS
from gateway.openapi import MissingContract, app_operations, build_document
from gateway.query_models import REASONS

STAFF = "5b2ad81a709e300001e2c0a1"
SCHOOL = "5b2ad81a709e300001e2c051"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("QUEUE_PREFIX", "")
    with Harness.open(tmp_path) as harness:
        harness.add_district()
        harness.add_staff(STAFF)
        harness.add_school(SCHOOL)
        yield harness


def served(h: Harness) -> dict[str, Any]:
    response = h.client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_every_route_of_the_app_is_in_the_document(h: Harness) -> None:
    document = served(h)
    listed = {(m.upper(), p) for p, methods in document["paths"].items() for m in methods}
    routes = {(m, p) for m, p, _ in app_operations(h.client.app.router.routes)}  # type: ignore[attr-defined]
    assert listed == routes
    assert len(listed) >= 55
    assert document["openapi"] == "3.1.0"
    # Contract entries that match no route are only the optional ones (metrics, where M1 serves it).
    stale = {key for key, op in OPERATIONS.items() if key not in routes and not op.optional}
    assert stale == set()


def test_a_route_without_a_contract_entry_is_refused(h: Harness) -> None:
    async def hidden(request: Request) -> Response:
        return Response()

    routes = [*h.client.app.router.routes, Route("/v1/undocumented", hidden)]  # type: ignore[attr-defined]
    with pytest.raises(MissingContract, match="GET /v1/undocumented"):
        build_document(routes, "test")


def test_every_schema_is_valid_json_schema_and_every_reference_resolves(h: Harness) -> None:
    document = served(h)
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    text = str(document)
    for name in document["components"]["schemas"]:
        assert name in text
    refs = {part.split("'")[0] for part in text.split("'$ref': '#/components/schemas/")[1:]}
    assert refs <= set(document["components"]["schemas"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "rostersync_session")
    assert (schemes["webhookSignature"]["in"], schemes["webhookSignature"]["name"]) == (
        "header",
        "Clever-Signature",
    )


def check(document: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The answer's status is documented and its JSON body matches the documented schema."""
    answers = document["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in answers, (method, path, response.status_code)
    content = answers[str(response.status_code)].get("content", {})
    schema = content["application/json"]["schema"]
    resolver = {"$ref": schema["$ref"], "components": document["components"]}
    jsonschema.validate(response.json(), resolver)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/districts", None),
        ("GET", "/v1/districts/{district_id}", None),
        ("GET", "/v1/districts/{district_id}/staff", None),
        ("GET", "/v1/districts/{district_id}/schools", None),
        ("GET", "/v1/districts/{district_id}/bell-schedules", None),
        ("GET", "/v1/districts/{district_id}/runs", None),
        ("GET", "/v1/audit", None),
        ("GET", "/v1/failed-messages", None),
        ("PATCH", "/v1/districts/{district_id}", {"timezone": "America/Chicago"}),
        ("PATCH", "/v1/districts/{district_id}", {"surprise": 1}),
        ("PATCH", "/v1/staff/{clever_id}", {"role": "SCHOOL_ADMIN"}),
        ("PUT", "/v1/districts/{district_id}/schools/{school_id}/bell-schedule", {"periods": []}),
        (
            "PUT",
            "/v1/districts/{district_id}/schools/{school_id}/bell-schedule",
            {"periods": [{"label": "1", "start": "08:00", "end": "08:50"}]},
        ),
        ("POST", "/v1/districts/{district_id}/sync", {"kind": "reconcile"}),
        ("POST", "/v1/districts/{district_id}/sync", {"kind": "nightly"}),
        ("GET", "/healthz", None),
    ],
)
def test_real_answers_match_the_document(
    h: Harness, method: str, path: str, body: dict[str, Any] | None
) -> None:
    document = served(h)
    url = path.format(district_id=DISTRICT, clever_id=STAFF, school_id=SCHOOL)
    response = h.client.request(method, url, json=body, headers=h.admin())
    check(document, method, path, response)


def test_bodies_are_described_by_the_models_that_validate_them(h: Harness) -> None:
    document = served(h)
    schemas = document["components"]["schemas"]
    sync = document["paths"]["/v1/districts/{district_id}/sync"]["post"]["requestBody"]
    assert sync["required"] is False
    assert schemas["SyncRequest"]["properties"]["kind"]["enum"] == ["full", "reconcile"]
    period = schemas["Period"]
    assert period["properties"]["start"]["pattern"] == r"^([01]\d|2[0-3]):[0-5]\d$"
    assert period["additionalProperties"] is False
    staff = document["paths"]["/v1/staff/{clever_id}"]["patch"]
    assert staff["parameters"][0]["schema"]["pattern"] == "^[0-9a-fA-F]{24}$"
    assert [p["name"] for p in staff["parameters"]] == ["clever_id", "district_id"]


def test_the_docs_page_lists_every_operation_without_any_script_from_elsewhere(h: Harness) -> None:
    document = served(h)
    page = h.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for methods in document["paths"].values():
        for operation in methods.values():
            assert f'id="{operation["operationId"]}"' in page.text
    assert "<script>" not in page.text and "https://" not in page.text.split("</head>")[0]
    assert 'href="/openapi.json"' in page.text


def refused_and_accepted(parameter: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Values the document refuses and values it allows, read from the parameter's schema."""
    schema = parameter["schema"]
    if "enum" in schema:
        return ["nonsense"], [str(v) for v in schema["enum"]]
    if schema.get("type") == "integer":
        low, high = schema["minimum"], schema["maximum"]
        refused = [str(high + 1), "²", "1.0", " 1"] + ([str(low - 1)] if low > 0 else [])
        return refused, [str(low), str(high)]
    if schema.get("type") == "boolean":
        return ["yes", "2"], ["true", "false", "1", "0"]
    return [], []


def test_the_query_models_are_the_validator_the_document_describes(h: Harness) -> None:
    """Every documented bound of every admin listing's query string, tried on the live route: what
    the document refuses is 422 with the parameter's reason, what it allows is answered."""
    document = served(h)
    tried = 0
    for path, methods in document["paths"].items():
        operation = methods.get("get")
        if not path.startswith("/v1/") or operation is None or "{" in path.replace("{district_id}", ""):
            continue
        url = path.format(district_id=DISTRICT)
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            refused, accepted = refused_and_accepted(parameter)
            for value in refused:
                response = h.client.get(url, params={parameter["name"]: value}, headers=h.admin())
                assert response.status_code == 422, (path, parameter["name"], value)
                assert response.json() == {"error": REASONS[parameter["name"]]}
                tried += 1
            for value in accepted:
                response = h.client.get(url, params={parameter["name"]: value}, headers=h.admin())
                assert response.status_code == 200, (path, parameter["name"], value, response.text)
                tried += 1
    assert tried > 60


def test_each_listing_parses_the_query_model_its_contract_entry_names(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tighten a contract entry's model and the route follows: the handler checks nothing of its
    own, so the document and the validation cannot drift apart."""
    listings = [
        (path, op.query)
        for (method, path), op in OPERATIONS.items()
        if method == "GET" and path.startswith("/v1/") and op.query is not None
    ]
    assert len(listings) >= 8
    for path, model in listings:
        assert model is not None and "limit" in model.model_fields, path
        tighter = create_model(model.__name__, __base__=model, limit=(Annotated[int, Field(ge=1, le=3)], 3))
        with monkeypatch.context() as patch:
            patch.setattr(query_models, model.__name__, tighter)
            url = path.format(district_id=DISTRICT)
            assert h.client.get(url, params={"limit": "3"}, headers=h.admin()).status_code == 200
            refused = h.client.get(url, params={"limit": "4"}, headers=h.admin())
            assert refused.status_code == 422, path
            assert refused.json() == {"error": REASONS["limit"]}


def test_a_held_run_refusal_names_the_run_as_documented(h: Harness) -> None:
    h.add_run("held-run", status="held", error="would deactivate 40% of staff")
    response = h.client.post(f"/v1/districts/{DISTRICT}/sync", json={}, headers=h.admin())
    assert response.status_code == 409
    assert response.json()["run_id"] == "held-run"
    document = served(h)
    check(document, "POST", "/v1/districts/{district_id}/sync", response)
    conflict = document["paths"]["/v1/districts/{district_id}/sync"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["$ref"].endswith("/SyncRefused")
