"""What a request carries in: bodies with a size cap (enforced before the whole body is in memory),
JSON within bounds (`json_limits`) and query strings parsed through their models
(gateway/query_models: 422 with the reason)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request

from gateway import query_models as q
from gateway.errors import ApiError, invalid
from gateway.json_limits import ascii_integer
from gateway.json_limits import decode_json as decode_json

Q = TypeVar("Q", bound=BaseModel)


def is_json_content_type(value: str | None) -> bool:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, or 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        length = ascii_integer(declared.strip(), max_digits=18)
        if length is None:
            raise ApiError(400, "invalid Content-Length")
        if length > limit:
            raise ApiError(413, f"body larger than {limit} bytes")
    # Content-Length may be absent (chunked) or wrong: count while streaming as well.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, *, required: bool = True) -> Any:
    """An admin request's JSON body; None when it is empty and not required."""
    content_type = request.headers.get("content-type")
    raw = await read_capped(request, limit)
    if not raw.strip():
        if required:
            raise ApiError(400, "a JSON body is required")
        return None
    if content_type is not None and not is_json_content_type(content_type):
        raise ApiError(415, "Content-Type must be application/json")
    return decode_json(raw)


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    body = await read_json(request, limit)
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object")
    return body


async def read_optional_json_object(request: Request, limit: int) -> dict[str, Any]:
    """An object, or {} for an empty body only: `[]`, `null`, `0`, `false` and `""` are 422."""
    content_type = request.headers.get("content-type")
    raw = await read_capped(request, limit)
    if not raw.strip():
        return {}
    if content_type is not None and not is_json_content_type(content_type):
        raise ApiError(415, "Content-Type must be application/json")
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object")
    return body


def parse_query(model: type[Q], params: QueryParams) -> Q:
    """The query string through its model (gateway/query_models, which the OpenAPI document
    describes); an empty value counts as absent. 422 with the first refused parameter's reason."""
    values = {name: params[name] for name in model.model_fields if params.get(name, "") != ""}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        raise invalid(q.REASONS.get(name, f"{name} is not valid")) from None


def query_after(params: QueryParams) -> int | None:
    """The keyset cursor: the row id the previous page ended on (its `next`)."""
    return parse_query(q.PageCursor, params).after


@dataclass(frozen=True)
class PageRequest:
    """What a paginated listing of a district's rows asks for."""

    district_id: str
    limit: int
    after: int | None
    include_inactive: bool


def page_request(request: Request) -> PageRequest:
    query = parse_query(q.PageQuery, request.query_params)
    return PageRequest(
        district_id=request.path_params["district_id"],
        limit=query.limit,
        after=query.after,
        include_inactive=query.include_inactive,
    )
