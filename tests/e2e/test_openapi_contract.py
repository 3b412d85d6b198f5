"""The live gateway keeps its OpenAPI contract: schemathesis reads /openapi.json from a gateway
started as an operator starts it (PostgreSQL, RabbitMQ, a worker, a district connected through
the OAuth flow so its paths resolve) and sends generated requests, valid and invalid, to every
operation with an operator's bearer token and a district admin's session cookie. No answer may be
a 5xx, and every answer's status, content type, headers and body must be the documented ones."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN
from sqlalchemy import select

from storage.tables import staff_users, tenants

pytestmark = pytest.mark.e2e

# Bounds the run to about a minute on two cores: every operation gets this many generated cases
# per phase, on top of the coverage phase's boundary cases.
MAX_EXAMPLES = 6
SEED = 20260512  # reproducible: a failure found once is found again
# Disconnecting and deleting end the connection the other operations need.
ENDING = "^post_v1_districts_district_id_(disconnect|deletion)$"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


def session_cookie(stack: Any) -> str:
    """A district admin's session, as the browser holds it after signing in from VenueOS."""
    response = httpx.get(f"{stack.gateway_url}/session", params={"assertion": stack.assertion()}, timeout=30)
    assert response.status_code == 200, response.text
    return response.cookies["rostersync_session"]


def resolvable_ids(stack: Any, district_id: str) -> dict[str, str]:
    with stack.engine.connect() as conn:
        staff = conn.execute(select(staff_users.c.clever_id).where(staff_users.c.district_id == district_id))
        school = conn.execute(
            select(tenants.c.clever_id).where(
                tenants.c.district_id == district_id, tenants.c.kind == "school"
            )
        )
        return {"clever_id": staff.scalars().first(), "school_id": school.scalars().first()}


def schemathesis_config(path: Path, parameters: dict[str, str]) -> Path:
    lines = ["[parameters]", *(f'"path.{name}" = "{value}"' for name, value in parameters.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_schemathesis(stack: Any, config: Path, cookie: str, *selection: str) -> str:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{stack.gateway_url}/openapi.json",
        *selection,
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--header",
        f"Cookie: rostersync_session={cookie}",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=config.parent
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-4000:]
    return result.stdout


def test_every_answer_of_the_live_gateway_matches_its_openapi_document(
    make_stack: Any, tmp_path: Path
) -> None:
    stack = make_stack(schools=2, workers=1)
    stack.connect_via_oauth()
    district_id = stack.sim.district.id
    [run] = stack.wait_for_runs(district_id, 1)
    assert run["status"] == "succeeded", run["error"]
    ids = {"district_id": district_id, "run_id": run["id"], **resolvable_ids(stack, district_id)}
    config = schemathesis_config(tmp_path / "schemathesis.toml", ids)
    cookie = session_cookie(stack)
    document = httpx.get(f"{stack.gateway_url}/openapi.json", timeout=30).json()
    operations = sum(len(methods) for methods in document["paths"].values())

    # Everything but the two operations that end the connection, while its paths resolve...
    kept = run_schemathesis(stack, config, cookie, "--exclude-operation-id-regex", ENDING)
    selected, total = operation_counts(kept)
    # schemathesis leaves out the operation that serves the document it reads (/openapi.json).
    assert total == operations - 1 and selected == total - 2, kept
    # ...then those two.
    ended = run_schemathesis(stack, config, cookie, "--include-operation-id-regex", ENDING)
    assert operation_counts(ended) == (2, total), ended


def operation_counts(output: str) -> tuple[int, int]:
    """(operations tested, operations in the document), as schemathesis reports them."""
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    count = re.search(r"Tested: (\d+)", output)
    assert selected is not None and count is not None, output
    assert count.group(1) == selected.group(1), output
    return int(selected.group(1)), int(selected.group(2))
