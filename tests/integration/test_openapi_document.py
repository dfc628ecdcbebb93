"""The committed OpenAPI document is the one the code generates (imports the handlers, so not a
socket-free unit test), and it tells a generated client
what it needs: success schemas, per-route errors, the OTP headers of key actions, both schemes."""

from __future__ import annotations

import json
import re
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
        assert headers["X-OTP-Challenge"]["required"], action.name
        # answered with a code, a passkey's assertion, or (approved on its page) the challenge alone
        assert not headers["X-OTP-Code"]["required"] and not headers["X-OTP-Passkey"]["required"], action.name
        assert op["x-wabaguard-key-action"] == action.name
        assert {"403", "423"} <= set(op["responses"]), action.name
    me = doc["paths"]["/me"]["get"]
    assert "parameters" not in me or not [p for p in me["parameters"] if p["in"] == "header"]
    assert set(me["responses"]) == {"200", "401", "429", "503"}, "errors are per route, not all everywhere"


def test_success_answers_have_schemas_and_secrets_are_marked_shown_once() -> None:
    doc = build()
    key = doc["paths"]["/phone-numbers/{phone_number_id}/api-keys"]["post"]["responses"]["201"]
    ref = key["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/NewApiKey", "answers are named components"
    schema = doc["components"]["schemas"]["NewApiKey"]
    assert "api_key" in schema["required"] and "shown only" in schema["properties"]["api_key"]["description"]
    assert "Idempotent-Replayed" in key["headers"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/ops/accounts"]["post"]["security"] == [{"sigv4": []}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


def test_a_valid_openapi_31_document_with_names_tags_and_action_ids() -> None:
    """Issue 22: ``openapi-spec-validator`` accepts it; every schema is a named component, every
    route has a capability tag, and each operationId is the action's name."""
    from openapi_spec_validator import validate
    from wabaguard.keyactions.registry import KEY_ACTIONS

    doc = build()
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    for action in KEY_ACTIONS:
        assert doc["paths"][action.resource][action.method.lower()]["operationId"] == action.name
    assert doc["paths"]["/me"]["get"]["operationId"] == "get_me"
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", i) and not i.endswith(("_get", "_post", "_put")) for i in ids), ids
    tags = {t["name"] for t in doc["tags"]}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in tags for _, _, op in ops)
    assert len({op["tags"][0] for _, _, op in ops}) >= 8, "tagged by capability, not all under one"
    assert doc["paths"]["/meta/webhook"]["post"]["tags"] == ["meta"]

    def inline_objects(node: object, where: str) -> list[str]:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                return [where]
            return [w for k, v in node.items() for w in inline_objects(v, f"{where}/{k}")]
        if isinstance(node, list):
            return [w for i, v in enumerate(node) for w in inline_objects(v, f"{where}/{i}")]
        return []

    assert inline_objects(doc["paths"], "paths") == [], "every object schema is a named component"
    assert "null" not in json.dumps(doc["paths"]), "nullable fields live in the components (3.1 style)"
    assert json.dumps(doc).count('{"type": "null"}') == json.dumps(doc["components"]).count('{"type": "null"}')
