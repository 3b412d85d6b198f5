"""Validate Clever-shaped JSON against the official Swagger 2.0 definitions shipped in ``simulator/spec``.

Swagger 2.0 ``definitions`` become JSON Schema: ``$ref`` stays ``#/definitions/..``, ``x-nullable: true``
also allows ``null``, vendor keys (``x-*``) and ``discriminator`` are dropped. With ``strict=True`` every
object definition additionally rejects unknown properties, except the few places where recorded Clever
responses deliberately differ from the specification (:data:`WIRE_EXTRAS`).

Needs ``pyyaml`` and ``jsonschema`` (test dependencies); imported lazily so the server does not need them.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).with_name("spec")
DATA_SPEC = SPEC_DIR / "v3.0.yml"
EVENTS_SPEC = SPEC_DIR / "v3.0-events.yml"

# Spec vs recordings: we follow the recordings.
#  * list items: {"data": {...}, "uri": "/v3.0/<resource>/<id>"} -- "uri" is not in the *Response definitions;
#  * *.updated events: "previous_attributes" sits inside "data" next to "object" (spec: next to "data");
#  * District carries ``ext`` (the simulator's bell schedules live there; Clever objects carry ext fields
#    for district-specific data, but the District definition lists none).
WIRE_EXTRAS: dict[str, tuple[str, ...]] = {
    "item": ("uri",),
    "event_data": ("previous_attributes",),
    "District": ("ext",),
}
RESOURCE_DEFINITIONS: dict[str, str] = {
    "districts": "District",
    "schools": "School",
    "users": "User",
    "sections": "Section",
    "terms": "Term",
    "courses": "Course",
}


def to_json_schema(node: Any) -> Any:
    """Convert one Swagger 2.0 schema node (recursively) to JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    nullable = bool(node.get("x-nullable"))
    if "$ref" in node:
        ref = {"$ref": node["$ref"]}
        return {"anyOf": [ref, {"type": "null"}]} if nullable else ref
    out = {
        k: to_json_schema(v)
        for k, v in node.items()
        if not k.startswith("x-") and k not in ("discriminator", "example")
    }
    if nullable:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _strict(definitions: dict[str, Any]) -> dict[str, Any]:
    """Forbid unknown properties on every object definition (ext objects stay open)."""
    strict = copy.deepcopy(definitions)

    def close(schema: Any, extras: tuple[str, ...] = ()) -> None:
        if not isinstance(schema, dict):
            return
        props = schema.get("properties")
        if isinstance(props, dict) and "additionalProperties" not in schema:
            for extra in extras:
                props.setdefault(extra, {})
            schema["additionalProperties"] = False
            for name, sub in props.items():
                if name != "ext":
                    close(sub)
        if "items" in schema:
            close(schema["items"])

    for name, schema in strict.items():
        # Event definitions combine Event with allOf; closing allOf branches would reject the other
        # branch's keys, so their top level is checked by SpecValidator.validate_event instead.
        if name != "Event" and "." not in name:
            close(schema, WIRE_EXTRAS.get(name, ()))
    return strict


class SpecValidator:
    """Validates response bodies against the v3.0 data + events definitions."""

    def __init__(self, strict: bool = False) -> None:
        import jsonschema
        import yaml

        definitions: dict[str, Any] = {}
        for path in (DATA_SPEC, EVENTS_SPEC):
            with path.open(encoding="utf-8") as fh:
                definitions.update(to_json_schema(yaml.safe_load(fh)["definitions"]))
        self.definitions = _strict(definitions) if strict else definitions
        self.strict = strict
        self._jsonschema = jsonschema
        self._validators: dict[str, Any] = {}

    def validator(self, definition: str) -> Any:
        if definition not in self._validators:
            schema = {"$ref": f"#/definitions/{definition}", "definitions": self.definitions}
            self._validators[definition] = self._jsonschema.Draft7Validator(schema)
        return self._validators[definition]

    def validate(self, definition: str, instance: Any) -> None:
        """Raise ``jsonschema.ValidationError`` unless ``instance`` matches the named definition."""
        self.validator(definition).validate(instance)

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        extra = set(item) - {"data", *WIRE_EXTRAS["item"]}
        if self.strict and extra:
            raise self._jsonschema.ValidationError(f"unexpected list item keys {sorted(extra)}")
        return {"data": item["data"]}

    def validate_list(self, resource: str, body: dict[str, Any]) -> None:
        """A list response (``/users``, ``/events`` ...): envelope, links and each object."""
        if resource == "events":
            items = [self._item(i) for i in body["data"]]
            self.validate("EventsResponse", {"data": items, "links": body["links"]})
            for item in body["data"]:
                self.validate_event(item["data"])
            return
        definition = RESOURCE_DEFINITIONS[resource]
        stripped = {"data": [self._item(i) for i in body["data"]], "links": body["links"]}
        self.validate(f"{definition}sResponse", stripped)

    def validate_single(self, resource: str, body: dict[str, Any]) -> None:
        """A single-object response (``/users/{id}``, ``/events/{id}``)."""
        if resource == "events":
            self.validate("EventResponse", {"data": body["data"]})
            self.validate_event(body["data"])
            return
        self.validate(f"{RESOURCE_DEFINITIONS[resource]}Response", {"data": body["data"]})

    def validate_event(self, event: dict[str, Any]) -> None:
        """An event object, checked against its type's definition (e.g. ``users.updated``)."""
        self.validate("Event", event)
        data = event.get("data", {})
        if self.strict:
            extra = (set(event) - {"id", "type", "created", "data"}) | (
                set(data) - {"object", *WIRE_EXTRAS["event_data"]}
            )
            if extra:
                raise self._jsonschema.ValidationError(f"unexpected event keys {sorted(extra)}")
        self.validate(event["type"], {**event, "data": {"object": data.get("object")}})
        if "previous_attributes" in data:
            record = event["type"].split(".")[0]
            if not isinstance(data["previous_attributes"], dict) or not event["type"].endswith(".updated"):
                raise self._jsonschema.ValidationError(f"{record}: previous_attributes only on updates")


@cache
def spec_validator(strict: bool = False) -> SpecValidator:
    """Shared, cached validator instance."""
    return SpecValidator(strict)
