"""Request bodies with a size cap, enforced before the whole body is in memory."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from gateway.errors import ApiError


def is_json_content_type(value: str | None) -> bool:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, or 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "invalid Content-Length")
        if int(declared) > limit:
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


def decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "malformed JSON") from None


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
