"""The simulator's responses validate against Clever's official v3.0 Swagger definitions.

Spec vs recordings (we follow the recordings, see ``simulator.spec.WIRE_EXTRAS``): list items carry an
item-level ``uri``; ``previous_attributes`` of ``*.updated`` events sits inside ``data`` next to ``object``.
The simulator's output is validated in *strict* mode (no undeclared keys apart from those); the recorded
samples are validated with the same converter in the default mode, because real student/contact roles carry
legacy keys the spec does not declare.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from simulator.spec import SpecValidator, spec_validator, to_json_schema
from simulator.testing import SimulatorHandle, running_simulator

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "clever_samples"
RESOURCES = ("schools", "users", "sections", "terms", "courses")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with running_simulator(schools=10, seed=11) as handle:
        yield handle


def crawl(sim: SimulatorHandle, path: str, limit: int) -> Iterator[dict[str, Any]]:
    url: str | None = f"{path}{'&' if '?' in path else '?'}limit={limit}"
    with httpx.Client(base_url=sim.base_url, headers=sim.district.auth_header, timeout=60) as client:
        while url:
            r = client.get(url)
            assert r.status_code == 200, r.text
            body = r.json()
            yield body
            url = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)


def test_recorded_samples_validate_with_the_converter() -> None:
    validator = spec_validator()
    files = sorted(SAMPLES.glob("*.yml"))
    assert {f.stem for f in files} == {"districts", "events", "schools", "sections", "terms", "users"}
    for path in files:
        cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
        for interaction in cassette["http_interactions"]:
            body = json.loads(interaction["response"]["body"]["string"])
            assert body["data"], path.name
            validator.validate_list(path.stem, body)


def test_converter_rejects_wrong_shapes() -> None:
    validator = spec_validator()
    validator.validate("Section", {"id": "a", "term_id": None, "teacher": None})  # x-nullable -> null ok
    with pytest.raises(jsonschema.ValidationError):
        validator.validate("Section", {"id": "a", "teachers": "not-a-list"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate("School", {"low_grade": "14"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate("User", {"id": None})  # not nullable
    with pytest.raises(jsonschema.ValidationError):
        SpecValidator(strict=True).validate("Term", {"id": "a", "colour": "blue"})
    assert to_json_schema({"type": "string", "x-nullable": True, "enum": ["a"]}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }


def test_every_list_and_single_response_validates(sim: SimulatorHandle) -> None:
    validator = spec_validator(strict=True)
    snapshot = sim.snapshot()
    for resource in RESOURCES:
        seen: list[dict[str, Any]] = []
        for body in crawl(sim, f"/v3.0/{resource}", limit=1000):
            validator.validate_list(resource, body)
            seen += [item["data"] for item in body["data"]]
        assert seen == snapshot[resource], resource
        for obj in seen[:: max(1, len(seen) // 40)]:
            r = sim.api(f"/v3.0/{resource}/{obj['id']}")
            validator.validate_single(resource, r.json())
            assert r.json()["data"] == obj
    for role in ("district_admin", "staff", "teacher", "student", "contact"):
        for body in crawl(sim, f"/v3.1/users?role={role}", limit=500):
            validator.validate_list("users", body)
    districts = sim.api("/v3.0/districts").json()
    validator.validate_list("districts", districts)
    validator.validate_single("districts", sim.api(f"/v3.0/districts/{sim.district.id}").json())


def test_events_from_mutations_validate(sim: SimulatorHandle) -> None:
    validator = spec_validator(strict=True)
    did = sim.district.id
    snap = sim.snapshot()
    school, section, term = snap["schools"][0], snap["sections"][0], snap["terms"][0]
    teacher = snap["users_by_role"]["teacher"][0]
    results = sim.mutate(
        did,
        {
            "op": "update",
            "resource": "schools",
            "id": school["id"],
            "data": {"ext": {"magnet_school": "Y"}, "low_grade": "Kindergarten"},
        },
        {
            "op": "update",
            "resource": "sections",
            "id": section["id"],
            "data": {"students": [], "period": "2"},
        },
        {"op": "update", "resource": "terms", "id": term["id"], "data": {"end_date": "2025-06-30"}},
        {
            "op": "update",
            "resource": "users",
            "id": teacher["id"],
            "data": {"roles": {"teacher": {"title": "X"}}},
        },
        {"op": "create", "resource": "courses", "data": {"name": "Robotics", "number": "ROB-1"}},
        {"op": "create", "resource": "terms", "data": {"name": "Summer"}},
        {
            "op": "create",
            "resource": "sections",
            "data": {
                "name": "Robotics - Lee - 3",
                "school": school["id"],
                "teacher": teacher["id"],
                "students": [],
                "period": "3",
                "subject": "technology and engineering",
            },
        },
        {"op": "delete", "resource": "users", "id": snap["users_by_role"]["staff"][1]["id"]},
        {"op": "update", "resource": "districts", "unset": ["ext.bell_schedule"]},
    )
    assert all(r["event_id"] for r in results)
    types = []
    for body in crawl(sim, "/v3.0/events", limit=3):
        validator.validate_list("events", body)
        types += [item["data"]["type"] for item in body["data"]]
    assert {
        "schools.updated",
        "sections.updated",
        "terms.updated",
        "users.updated",
        "courses.created",
        "terms.created",
        "sections.created",
        "users.deleted",
        "districts.updated",
    } <= set(types)
    for r in results:
        validator.validate_single("events", sim.api(f"/v3.0/events/{r['event_id']}").json())


def test_me_and_oauth_shapes(sim: SimulatorHandle) -> None:
    tokens = httpx.get(
        f"{sim.base_url}/oauth/tokens",
        params={"owner_type": "district"},
        auth=(sim.client_id, sim.client_secret),
    ).json()
    assert tokens["data"][0]["owner"] == {"type": "district", "id": sim.district.id}
    assert tokens["data"][0]["access_token"] == sim.district.token
