"""Who may make each key action (issue 21), for every role — account admin and member, Partner admin
and member, an API key, another tenant — read from the registry, so a new action is covered the day
it is declared. Asking for a challenge runs the same preparation as the request itself: an allowed
role gets a challenge (201), a refused one 403 before any code is sent, another tenant 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from wabaguard.keyactions.registry import KEY_ACTIONS, KeyAction
from wabaguard.people.access import Role

from devstack.server import World
from tests.integration.conftest import Api, authenticator

TEMPLATE = {"name": "order_update", "language": "en", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order shipped"}]}  # fmt: skip
BODIES: dict[str, Any] = {
    "create_template": TEMPLATE,
    "update_profile": {"about": "Roles"},
    "set_webhook_url": {"url": "https://hooks.example.net/roles"},
    "request_partner_change": {"target_partner_id": "prt_next"},
    "create_api_key": {"name": "roles"},
    "add_user": {"email": "new@acme.test", "role": "member"},
    "set_security_webhook": {"url": "http://127.0.0.1:9/roles"},
    "set_security_policy": {"passkey_required_for": ["create_api_key"]},
    "set_user_email": {"email": "renamed@acme.test"},
    "set_my_email": {"email": "mine@roles.test"},
}


@pytest.fixture
def people(api: Api, world: World, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Acme with a spare user to remove, a second admin's open Partner change to approve, a
    security webhook to remove or rotate; every role, an API key and another tenant."""
    from wabaguard.people.access import load_account

    from devstack.seed import create_user

    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "1")
    acme, globex = demo["accounts"]
    admin = acme["users"][0]
    acc = acme["account_id"]
    spare = create_user(load_account(acc), "spare@acme.test", "member")
    requester = create_user(load_account(acc), "second@acme.test", "admin")
    to_other = {"target_partner_id": "prt_other"}
    req = api.approved(requester, "POST", f"/v1/accounts/{acc}/partner-change-requests", to_other)
    assert req.status == 201, req.json()
    hook = api.approved(admin, "PUT", f"/v1/accounts/{acc}/security-webhook", {"url": "http://127.0.0.1:9/x"})
    assert hook.status == 200, hook.json()
    pn = acme["phone_numbers"][0]["phone_number_id"]
    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "k"}).json()["api_key"]
    partner = load_account(demo["partner"]["partner_id"])
    return {
        "paths": {
            "account_id": acc,
            "phone_number_id": pn,
            "user_id": spare["user_id"],
            "request_id": req.json()["request_id"],
            "passkey_id": "pk_0000000000000000",  # each role removes a passkey of its own (_own)
        },
        Role.ACCOUNT_ADMIN: admin,
        Role.ACCOUNT_MEMBER: acme["users"][1],
        Role.PARTNER_ADMIN: demo["partner"]["users"][0],
        Role.PARTNER_MEMBER: create_user(partner, "member@northwind.test", "member"),
        "api_key": {"token": key},
        "other_tenant": globex["users"][0],
    }


def _own(api: Api, action: KeyAction, user: dict[str, Any], path: str, body: Any) -> tuple[str, Any]:
    """The passkey actions act on the caller's own passkeys: a registration of their own (fresh
    options), a passkey of their own to remove."""
    if action.name == "register_passkey":
        opts = api.call("POST", "/v1/me/passkeys/options", user["token"]).json()["publicKey"]
        return path, {"name": "roles", "credential": authenticator().register(opts)}
    if action.name == "remove_passkey":
        return f"/v1/me/passkeys/{api.register_passkey(user, authenticator())['passkey_id']}", body
    return path, body


def _path(action: KeyAction, values: dict[str, str]) -> str:
    return action.pattern.format(**values)


@pytest.mark.parametrize("action", KEY_ACTIONS, ids=[a.name for a in KEY_ACTIONS])
def test_each_role_may_make_exactly_the_key_actions_the_registry_gives_it(
    api: Api, world: World, people: dict[str, Any], moving: dict[str, Any], action: KeyAction
) -> None:
    path = _path(action, people["paths"])
    body = BODIES.get(action.name)
    if action.name == "request_partner_change":  # one open request per account: the fixture's goes
        values = people["paths"]
        cancel = f"/v1/accounts/{values['account_id']}/partner-change-requests/{values['request_id']}/cancel"
        assert api.call("POST", cancel, people[Role.ACCOUNT_ADMIN]["token"]).status == 200
    sent = len(api.outbox())
    for role in Role:
        moving["now"] += timedelta(minutes=16)  # past every challenge quota: only the role decides
        path, body = _own(api, action, people[role], path, body)
        resp = api.challenge(people[role]["token"], action.method, path, body)
        if role in action.roles:
            assert resp.status == 201, (role, resp.json())
        else:
            assert resp.status == 403 and resp.json()["error"] == "forbidden", (role, resp.json())
    allowed = [r for r in Role if r in action.roles]
    asked = ("Approve with your passkey",) if action.name == "remove_passkey" else ("code", "Approve with your passkey")
    codes = [m for m in api.outbox()[sent:] if any(a in m["subject"] for a in asked)]
    assert len(codes) == len(allowed)  # a code went out for the allowed roles only
    key = api.challenge(people["api_key"]["token"], action.method, path, body)
    assert key.status == 403 and key.json()["error"] == "forbidden"
    if action.target != "self":  # one's own token and TOTP are no other tenant's to reach
        other = api.challenge(people["other_tenant"]["token"], action.method, path, body)
        assert other.status == 404 and other.json()["error"] == "not_found", other.json()
