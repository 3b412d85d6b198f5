"""/docs: the OpenAPI document as a page, rendered on the server from the document itself (no
script and no viewer from elsewhere: the pages' Content-Security-Policy allows neither)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Listed:
    method: str
    path: str
    anchor: str
    operation: dict[str, Any]
    request: list[tuple[str, str]]  # (media type, schema name)
    responses: list[tuple[str, str, list[str]]]  # (status, description, what it carries)


def schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else schema.get("type", "any")


def docs_context(document: dict[str, Any]) -> dict[str, Any]:
    tags: dict[str, list[Listed]] = {}
    for path, methods in document["paths"].items():
        for method in sorted(methods, key=METHOD_ORDER.index):
            op = methods[method]
            body = op.get("requestBody", {}).get("content", {})
            responses = [
                (
                    status,
                    answer["description"],
                    [
                        f"{media}: {schema_name(c.get('schema', {}))}"
                        for media, c in answer.get("content", {}).items()
                    ],
                )
                for status, answer in op["responses"].items()
            ]
            listed = Listed(
                method=method.upper(),
                path=path,
                anchor=op["operationId"],
                operation=op,
                request=[(media, schema_name(c["schema"])) for media, c in body.items()],
                responses=responses,
            )
            tags.setdefault(op["tags"][0], []).append(listed)
    schemas = {
        name: json.dumps(schema, indent=2, sort_keys=True)
        for name, schema in sorted(document["components"]["schemas"].items())
    }
    return {
        "info": document["info"],
        "openapi_version": document["openapi"],
        "tags": tags,
        "schemes": document["components"]["securitySchemes"],
        "schemas": schemas,
    }
