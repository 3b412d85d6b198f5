"""The OpenAPI 3.1 document, built from the contract (gateway/contract.py) and the app's own route
table, and served at /openapi.json and, as a page, at /docs.

The route table decides which operations exist; the contract says what each takes and answers.
A route without a contract entry is a MissingContract error, so nothing is served undocumented.
Refusals every route can give come from the layers every route passes: the path, query and header
check (gateway/path_params: 400/422) and the database handler (503).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gateway import api_models
from gateway.contract import BEARER, OPERATIONS, SESSION, SIGNATURE, Answer, Operation, Page
from gateway.openapi_page import docs_context
from gateway.page_render import render
from gateway.path_params import OWN_ID, SHAPES
from gateway.sessions import COOKIE_NAME
from gateway.webhook_signature import HEADER as SIGNATURE_HEADER

TITLE = "rostersync"
REF = "#/components/schemas/{model}"
# Routes that never reach the database, so never answer its 503.
STATIC = "/static/{path}"
NO_DATABASE = {"/healthz", "/readyz", "/openapi.json", "/docs", "/metrics", STATIC}
STATUS_TEXT = {
    200: "OK",
    202: "accepted",
    204: "done; no content",
    302: "redirect",
    303: "redirect",
    400: "malformed request (body, JSON, header)",
    401: "not authenticated",
    403: "not allowed",
    404: "not found (or another tenant's)",
    409: "conflicts with the current state",
    410: "expired",
    413: "body too large",
    415: "wrong content type",
    422: "a value breaks a documented rule",
    503: "a dependency is unavailable; retry after `Retry-After`",
}
SECURITY_SCHEMES = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "an identity assertion VenueOS signed (JWT), or one of ADMIN_TOKENS (an operator)",
    },
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE_NAME,
        "description": "the browser session `GET /session` sets",
    },
    SIGNATURE: {
        "type": "apiKey",
        "in": "header",
        "name": SIGNATURE_HEADER,
        "description": '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with a '
        "WEBHOOK_SECRETS entry",
    },
}


class MissingContract(LookupError):
    """A route the contract does not describe."""


def app_operations(routes: list[BaseRoute]) -> Iterator[tuple[str, str, list[str]]]:
    """(method, path, path parameter names) for every operation the route table serves."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":  # Starlette adds HEAD to every GET
                    yield method, route.path, list(route.param_convertors)
        elif isinstance(route, Mount):
            yield "GET", f"{route.path}/{{path}}", ["path"]


def build_document(routes: list[BaseRoute], version: str) -> dict[str, Any]:
    found = list(app_operations(routes))
    missing = [f"{m} {p}" for m, p, _ in found if (m, p) not in OPERATIONS]
    if missing:
        raise MissingContract("routes without a contract entry: " + ", ".join(missing))
    schemas, refs = _schemas(OPERATIONS[(m, p)] for m, p, _ in found)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, params in found:
        operation = OPERATIONS[(method, path)]
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, params, operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": version,
            "description": "Syncs school districts' staff, schools, classrooms and terms from Clever. "
            'Every refusal is `{"error": reason}` and changes nothing.',
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _schemas(
    operations: Iterator[Operation],
) -> tuple[dict[str, Any], dict[tuple[type[BaseModel], str], Any]]:
    wanted: set[tuple[type[BaseModel], str]] = {(api_models.Error, "serialization")}
    for op in operations:
        if op.body is not None:
            wanted.add((op.body, "validation"))
        wanted.update((a, "serialization") for a in op.responses.values() if not isinstance(a, Page))
    ordered = sorted(wanted, key=lambda item: (item[0].__name__, item[1]))
    refs, document = models_json_schema(ordered, ref_template=REF)  # type: ignore[arg-type]
    return document.get("$defs", {}), dict(refs)  # type: ignore[arg-type]


def _operation(
    method: str, path: str, params: list[str], op: Operation, refs: dict[tuple[type[BaseModel], str], Any]
) -> dict[str, Any]:
    parameters = [_path_parameter(name) for name in params] + _query_parameters(op.query)
    responses: dict[str, Any] = {}
    for status, answer in sorted(op.responses.items()):
        responses[str(status)] = _response(status, answer, refs)
    # Every route passes the path/query/header check (any query value is checked); most reach
    # the database. Static files are served by a mount, outside both.
    shared = [] if path == STATIC else [400, 422] + ([503] if path not in NO_DATABASE else [])
    for status in shared:
        entry = responses.setdefault(str(status), {"description": STATUS_TEXT[status], "content": {}})
        entry.setdefault("content", {})["application/json"] = {
            "schema": refs[(api_models.Error, "serialization")]
        }
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
        "security": [{name: []} for name in op.security],
    }
    if op.description:
        operation["description"] = op.description
    if op.body is not None:
        media = "application/x-www-form-urlencoded" if op.form else "application/json"
        operation["requestBody"] = {
            "required": op.body_required,
            "content": {media: {"schema": refs[(op.body, "validation")]}},
        }
    return operation


def _response(status: int, answer: Answer, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    if not isinstance(answer, Page):
        doc = (answer.__doc__ or "").strip().splitlines()
        description = doc[0] if doc and status < 300 else STATUS_TEXT.get(status, "")
        return {
            "description": description or STATUS_TEXT.get(status, ""),
            "content": {"application/json": {"schema": refs[(answer, "serialization")]}},
        }
    if answer.kind == "redirect" or status == 204:
        return {"description": answer.description, "headers": _location(answer)}
    media = {
        "html": ["text/html"],
        "text": ["text/plain"],
        "static": ["text/css", "text/javascript"],
    }[answer.kind]
    return {"description": answer.description, "content": {m: {"schema": {"type": "string"}} for m in media}}


def _location(answer: Page) -> dict[str, Any]:
    if answer.kind != "redirect":
        return {}
    return {"Location": {"description": "where to go next", "schema": {"type": "string"}}}


def _path_parameter(name: str) -> dict[str, Any]:
    shape = SHAPES.get(name, OWN_ID)
    if name == "path":  # a static file's name, served by StaticFiles
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": shape.description + (" (any case; lower-cased on entry)" if shape.lower else ""),
        "schema": {"type": "string", "pattern": f"^{shape.pattern.pattern}$"},
    }


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.pop("description", None)
        prop.pop("default", None)
        prop.pop("title", None)
        # An optional parameter is simply left out, never sent as null.
        options = [o for o in prop.pop("anyOf", [prop]) if o.get("type") != "null"]
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": options[0] if len(options) == 1 else {"anyOf": options},
        }
        if description:
            param["description"] = description
        found.append(param)
    return found


def _operation_id(method: str, path: str) -> str:
    words = [part.strip("{}").replace("-", "_").replace(".", "_") for part in path.split("/") if part]
    return "_".join([method.lower(), *words]) or method.lower()


def document(request: Request) -> dict[str, Any]:
    """The app's document, built once (the route table does not change while it runs)."""
    state = request.app.state
    built = getattr(state, "openapi_document", None)
    if built is None:
        built = build_document(request.app.router.routes, _version())
        state.openapi_document = built
    return built


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rostersync")
    except PackageNotFoundError:
        return "0"


def routes() -> list[Route]:
    async def openapi_json(request: Request) -> Response:
        return JSONResponse(document(request))

    async def docs(request: Request) -> Response:
        return render(request, "docs.html", docs_context(document(request)))

    return [Route("/openapi.json", openapi_json, methods=["GET"]), Route("/docs", docs, methods=["GET"])]
