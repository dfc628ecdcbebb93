"""The committed OpenAPI document is the one the code generates (imports the handlers, so not a
socket-free unit test), and it tells a generated client
what it needs: success schemas, per-route errors, the OTP headers of key actions, both schemes."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.cfn import ROOT
from devstack.openapi import build

COMMITTED = Path(ROOT, "layers/shared/wabaguard/openapi.json")


def test_the_committed_document_is_current() -> None:
    assert json.loads(COMMITTED.read_text()) == json.loads(json.dumps(build())), "run `make openapi`"


def test_key_actions_declare_their_otp_headers_and_reads_do_not() -> None:
    doc = build()
    from wabaguard.keyactions.registry import KEY_ACTIONS

    for action in KEY_ACTIONS:
        op = doc["paths"][action.resource][action.method.lower()]
        headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
        assert headers["X-OTP-Challenge"]["required"] and headers["X-OTP-Code"]["required"], action.name
        assert op["x-wabaguard-key-action"] == action.name
        assert {"403", "423"} <= set(op["responses"]), action.name
    me = doc["paths"]["/me"]["get"]
    assert "parameters" not in me or not [p for p in me["parameters"] if p["in"] == "header"]
    assert set(me["responses"]) == {"200", "401", "429", "503"}, "errors are per route, not all everywhere"


def test_success_answers_have_schemas_and_secrets_are_marked_shown_once() -> None:
    doc = build()
    key = doc["paths"]["/phone-numbers/{phone_number_id}/api-keys"]["post"]["responses"]["201"]
    schema = key["content"]["application/json"]["schema"]
    assert "api_key" in schema["required"] and "shown only" in schema["properties"]["api_key"]["description"]
    assert "Idempotent-Replayed" in key["headers"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/ops/accounts"]["post"]["security"] == [{"sigv4": []}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
