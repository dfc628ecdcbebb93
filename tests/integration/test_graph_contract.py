"""The Graph stand-in is held to Meta's own OpenAPI description (issue 21): every request it accepts
and every answer it gives — errors included — fits ``business-messaging-api_v23.0.yaml``; the
product's form rules are checked against that description, not against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack import meta_spec
from devstack.cfn import ROOT
from devstack.server import World
from tests.integration.conftest import Api

TEMPLATE = {"name": "order_shipped", "language": "en_US", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order {{1}} shipped"}]}  # fmt: skip


def as_sent(body: Any) -> Any:
    """The recorded body as it was sent (the stand-in keeps a verify token only as its digest)."""
    out = json.loads(json.dumps(body))
    config = out.get("webhook_configuration") if isinstance(out, dict) else None
    if isinstance(config, dict) and "verify_token_sha256" in config:
        config["verify_token"] = "a-verify-token"
        del config["verify_token_sha256"]
    return out


def test_the_vendored_description_is_metas_as_the_team_keeps_it() -> None:
    shared = Path(ROOT).parent / "shared" / "meta" / meta_spec.SPEC.name
    if not shared.exists():
        pytest.skip("no ../shared beside this clone")
    assert shared.read_bytes() == meta_spec.SPEC.read_bytes()


def test_the_products_form_rules_follow_metas_description() -> None:
    from wabaguard import schemas
    from wabaguard.whatsapp import forms

    assert meta_spec.verticals() == forms.VERTICALS
    profile = meta_spec.schema("WhatsAppBusinessProfileUpdateRequest")["properties"]
    ours = schemas.ProfileUpdate.model_json_schema()["properties"]
    for name in ("about", "address", "description"):
        limit = next(v["maxLength"] for v in ours[name]["anyOf"] if "maxLength" in v)
        assert limit <= profile[name]["maxLength"], name  # never more than Meta accepts


def test_every_call_the_stand_in_takes_and_every_answer_it_gives_fits_metas_description(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    acc = acme["account_id"]
    assert api.approved(admin, "POST", f"/v1/accounts/{acc}/templates", TEMPLATE).status == 201
    body = {"about": "Shoes", "vertical": "RETAIL", "websites": ["https://acme.test"]}
    assert api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", body).status == 200
    hook = {"url": "https://hooks.example.net/wa", "verify_token": "vt-contract"}
    assert api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", hook).status == 200
    world.pump.pump()
    waba, phone = acme["waba_id"], acme["phone_numbers"][0]["meta_phone_number_id"]
    # the stand-in's refusals, straight from its door: bad forms, an unknown object, a bad token
    auth = {"Authorization": f"Bearer {world.graph.token}"}
    profile = f"/v23.0/{phone}/whatsapp_business_profile"
    for method, path, sent, headers in (
        ("POST", profile, {"messaging_product": "whatsapp", "vertical": "NOPE"}, auth),
        ("POST", profile, {"messaging_product": "whatsapp", "description": "x" * 300}, auth),
        ("POST", f"/v23.0/{waba}/message_templates", {**TEMPLATE, "name": "Bad Name"}, auth),
        ("POST", f"/v23.0/{waba}/message_templates", TEMPLATE, auth),  # exists already
        ("POST", f"/v23.0/{phone}", {"webhook_configuration": {}}, auth),
        ("GET", f"/v23.0/{waba}/message_templates", None, auth),
        ("POST", profile, {"messaging_product": "whatsapp"}, {}),
    ):  # fmt: skip
        world.graph.handle(method, path, headers, json.dumps(sent).encode() if sent is not None else b"")
    calls = world.graph.recorded()
    assert {c["status"] // 100 for c in calls} == {2, 4}
    for call in calls:
        status, answer = int(call["status"]), call["answer"]
        assert meta_spec.response_errors(call["method"], call["path"], status, answer) == [], call
        if 200 <= status < 300 and call["method"] != "GET":
            assert meta_spec.request_errors(call["method"], call["path"], as_sent(call["body"])) == [], call
    refused = [c for c in calls if c["status"] == 400]
    assert any("vertical" in c["answer"]["error"]["message"] for c in refused)
    assert any("description" in c["answer"]["error"]["message"] for c in refused)
