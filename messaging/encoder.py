"""Message bodies as JSON, written and read by orjson: the same JSON any service can publish,
without the cost of the standard library's encoder on pages of a thousand records."""

from __future__ import annotations

import json

import dramatiq
import orjson
from dramatiq.encoder import MessageData


class OrjsonEncoder(dramatiq.Encoder):
    def encode(self, data: MessageData) -> bytes:
        try:
            return orjson.dumps(data)
        except TypeError:  # integers beyond 64 bits, which only the standard library writes
            return json.dumps(data, separators=(",", ":")).encode()

    def decode(self, data: bytes) -> MessageData:
        try:
            decoded: MessageData = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise dramatiq.DecodeError("failed to decode message", data, exc) from None
        return decoded
