"""§API onboarding (issue 11): ops create a Client account with its WABA, phone numbers and first
admin, or a Partner — and that admin can make a first key action straight away."""

from __future__ import annotations

from typing import Any

from devstack.server import World
from tests.integration.conftest import Api

CLIENT = {
    "name": "Initech",
    "waba_id": "102290129340398",
    "phone_numbers": [
        {"display_phone_number": "4930123456", "meta_phone_number_id": "106540352242922"},
        {
            "display_phone_number": "14155550111",
            "meta_phone_number_id": "106540352242923",
            "display": "+1 415 555 0111",
        },
    ],
    "admin": {"email": "Owner@Initech.test"},
}


def test_ops_onboard_a_client_whose_admin_acts_at_once(world: World, demo: dict[str, Any], api: Api) -> None:
    body = {**CLIENT, "partner_id": demo["partner"]["partner_id"]}
    resp = api.call("POST", "/v1/ops/accounts", world.ops_token, body)
    assert resp.status == 201, resp.json()
    out = resp.json()
    assert out["account"]["waba_id"] == "102290129340398" and out["account"]["kind"] == "client"
    admin = out["admin"]
    assert admin["email"] == "owner@initech.test" and "token" not in admin and admin["access"] == "invited"
    assert admin["invite"] == {"status": "emailed", "to": "owner@initech.test", "valid_for": "7 days"}
    admin["token"] = api.accept_invite("owner@initech.test")  # the invite's page shows the admin their own token
    me = api.call("GET", "/v1/me", admin["token"]).json()
    assert me["role"] == "admin" and sorted(p["display"] for p in me["phone_numbers"]) == [
        "+1 415 555 0111",
        "+4930123456",
    ]
    pn = out["phone_numbers"][0]
    assert pn["meta_phone_number_id"] == "106540352242922" and pn["display_phone_number"] == "4930123456"
    admin["account_id"] = out["account"]["account_id"]
    first = api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn['phone_number_id']}/profile", {"about": "Hello"})
    assert first.status == 200
    partner_admin = demo["partner"]["users"][0]
    managed = api.call("GET", "/v1/me", partner_admin["token"]).json()["managed_accounts"]
    assert out["account"]["account_id"] in [a["account_id"] for a in managed]
    world.pump.pump()
    welcome = [m for m in api.outbox() if m["to"] == "owner@initech.test" and "added to Initech" in m["subject"]]
    assert len(welcome) == 1 and admin["token"] not in welcome[0]["text"] + welcome[0]["html"]
    assert "wabaguard operations added you" in welcome[0]["text"]


def test_meta_ids_are_unique_across_accounts(world: World, demo: dict[str, Any], api: Api) -> None:
    assert api.call("POST", "/v1/ops/accounts", world.ops_token, CLIENT).status == 201
    again = api.call("POST", "/v1/ops/accounts", world.ops_token, {**CLIENT, "name": "Copy"})
    assert again.status == 409 and again.json()["error"] == "conflict"
    phone_taken = {**CLIENT, "waba_id": "999", "phone_numbers": CLIENT["phone_numbers"][:1]}
    assert api.call("POST", "/v1/ops/accounts", world.ops_token, phone_taken).status == 409
    from wabaguard.people.access import account_by_waba

    found = account_by_waba("102290129340398")
    assert found is not None and found.name == "Initech"
    assert account_by_waba("999") is None, "nothing was half-written by the refused request"


def test_a_partner_is_onboarded_and_can_then_manage_a_client(world: World, demo: dict[str, Any], api: Api) -> None:
    partner = api.call(
        "POST",
        "/v1/ops/accounts",
        world.ops_token,
        {"kind": "partner", "name": "Wayne BSP", "admin": {"email": "a@wayne.test"}},
    )
    assert partner.status == 201 and partner.json()["account"]["account_id"].startswith("prt_")
    client = api.call(
        "POST", "/v1/ops/accounts", world.ops_token, {**CLIENT, "partner_id": partner.json()["account"]["account_id"]}
    )
    assert client.status == 201
    me = api.call("GET", "/v1/me", api.accept_invite("a@wayne.test")).json()
    assert [a["name"] for a in me["managed_accounts"]] == ["Initech"]


def test_onboarding_refuses_bad_input_and_non_ops_callers(world: World, demo: dict[str, Any], api: Api) -> None:
    user = demo["accounts"][0]["users"][0]["token"]
    assert api.call("POST", "/v1/ops/accounts", user, CLIENT).status == 403
    for body, field in (
        ({**CLIENT, "waba_id": None}, "waba_id"),
        ({**CLIENT, "waba_id": "12ab"}, "waba_id"),
        ({**CLIENT, "admin": {"email": "a,b@x.test"}}, "admin.email"),
        ({**CLIENT, "partner_id": demo["accounts"][0]["account_id"]}, "partner_id"),
        ({"kind": "partner", "name": "P", "waba_id": "1", "admin": {"email": "p@p.test"}}, "kind"),
        ({**CLIENT, "phone_numbers": [CLIENT["phone_numbers"][0]] * 2}, "phone_numbers"),
        (
            {**CLIENT, "phone_numbers": [{"display_phone_number": "+49301", "meta_phone_number_id": "1"}]},
            "phone_numbers.0.display_phone_number",
        ),
    ):
        resp = api.call("POST", "/v1/ops/accounts", world.ops_token, body)
        assert resp.status == 400 and resp.json()["field"] == field, (field, resp.json())
