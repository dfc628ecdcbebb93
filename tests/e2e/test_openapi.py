"""The OpenAPI document (generated from the code) and schemathesis against the local stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devstack.cfn import Stack as Template
from tests.e2e.conftest import Stack


def test_openapi_document_covers_every_template_route(stack: Stack) -> None:
    doc = stack.request("GET", "/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.") and doc["servers"] == [{"url": "/v1"}]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in Template().routes()}
    webhook = doc["paths"]["/phone-numbers/{phone_number_id}/webhook"]["put"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["required"] == ["url"]
    assert doc["paths"]["/ops/flags/{flag_id}/resolve"]["post"]["security"] == [{"sigv4": []}]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(stack: Stack) -> None:
    token = stack.demo["accounts"][1]["users"][0]["token"]  # Globex admin: other e2e tests use Acme
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{stack.base}/v1/openapi.json",
        "-H",
        f"Authorization: Bearer {token}",
        "--workers",
        "2",  # the stack runs in another process: two workers keep both cores busy
        "--max-examples",
        "20",
        "--checks",
        "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
        "--seed",
        "1",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=400, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
