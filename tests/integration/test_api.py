"""Each route of §API through the gateway: success shapes, validation, access, audit, secrets."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.integration.conftest import Api

TEMPLATE = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Your order {{1}} shipped"}],
}


def test_create_template(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> None:
    resp = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    assert resp.status == 201
    body = resp.json()
    assert body["template_id"].startswith("tpl_")
    assert {k: body[k] for k in ("name", "language", "status")} == {
        "name": "order_update",
        "language": "en_US",
        "status": "PENDING",
    }


def test_update_profile_merges_fields(api: Api, admin: dict[str, Any], pn: str) -> None:
    resp = api.approved(
        admin,
        "PATCH",
        f"/v1/phone-numbers/{pn}/profile",
        {"about": "New shoes daily", "websites": ["https://acme.test", "https://shop.acme.test"]},
    )
    assert resp.status == 200
    assert resp.json()["about"] == "New shoes daily"
    assert resp.json()["websites"] == ["https://acme.test", "https://shop.acme.test"]
    phone = api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()
    assert phone["profile"]["about"] == "New shoes daily"


def test_set_webhook_url(api: Api, admin: dict[str, Any], pn: str) -> None:
    resp = api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://hooks.new.example/wa"})
    assert resp.status == 200 and resp.json()["url"] == "https://hooks.new.example/wa"
    assert resp.json()["platform"]["status"] == "pending"
    assert (
        api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()["webhook_url"]
        == "https://hooks.new.example/wa"
    )


def test_partner_change_request(api: Api, admin: dict[str, Any], acme: dict[str, Any], world: Any) -> None:
    from devstack.seed import create_account

    other = create_account("Contoso Partners", kind="partner")
    resp = api.approved(
        admin,
        "POST",
        f"/v1/accounts/{acme['account_id']}/partner-change-requests",
        {"target_partner_id": other.account_id, "reason": "better rates"},
    )
    assert resp.status == 201 and resp.json()["status"] == "COOLING_OFF"  # §Partner change
    assert resp.json()["request_id"].startswith("pcr_")


def test_partner_change_to_a_non_partner_is_404_unknown_partner(
    api: Api, admin: dict[str, Any], demo: dict[str, Any]
) -> None:
    acme, globex = demo["accounts"]
    resp = api.challenge(
        admin["token"],
        "POST",
        f"/v1/accounts/{acme['account_id']}/partner-change-requests",
        {"target_partner_id": globex["account_id"]},
    )
    assert resp.status == 404 and resp.json()["error"] == "unknown_partner"


def test_api_key_is_shown_once_stored_as_digest_and_works(api: Api, admin: dict[str, Any], pn: str) -> None:
    resp = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "crm"})
    assert resp.status == 201
    body = resp.json()
    key = body["api_key"]
    assert key.startswith(body["prefix"]) and len(key) >= 36
    phone = api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"])
    assert key not in phone.body.decode()
    assert phone.json()["api_keys"][0] == {
        **phone.json()["api_keys"][0],
        "key_id": body["key_id"],
        "prefix": body["prefix"],
        "status": "active",
        "name": "crm",
    }
    me = api.call("GET", "/v1/me", key).json()
    assert me["kind"] == "api_key" and me["phone_number_id"] == pn
    # API keys may read their phone number but cannot make key actions
    assert api.call("GET", f"/v1/phone-numbers/{pn}", key).status == 200
    denied = api.call("PUT", f"/v1/phone-numbers/{pn}/webhook", key, {"url": "https://x.example.com/"})
    assert denied.status == 403 and denied.json()["error"] == "forbidden"
    assert api.challenge(key, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://x.example.com/"}).status == 403

    revoke = api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{body['key_id']}", admin["token"])
    assert revoke.status == 204
    assert api.call("GET", "/v1/me", key).status == 401
    again = api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{body['key_id']}", admin["token"])
    assert again.status == 409


def test_add_and_remove_user(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> None:
    path = f"/v1/accounts/{acme['account_id']}/users"
    added = api.approved(admin, "POST", path, {"email": "Carol@Acme.test", "role": "member"})
    assert added.status == 201
    carol = added.json()
    assert carol["email"] == "carol@acme.test" and carol["role"] == "member" and "token" not in carol
    carol["token"] = api.accept_invite("carol@acme.test")
    assert api.call("GET", "/v1/me", carol["token"]).json()["user_id"] == carol["user_id"]
    listed = api.call("GET", path, admin["token"]).json()["users"]
    assert carol["user_id"] in [u["user_id"] for u in listed]
    assert all("token" not in u for u in listed)
    assert all({"last_active_at", "stale"} <= set(u) for u in listed)

    dup = api.challenge(admin["token"], "POST", path, {"email": "carol@acme.test", "role": "admin"})
    assert dup.status == 201  # the body is valid; the conflict is found when performing
    removed = api.approved(admin, "DELETE", f"{path}/{carol['user_id']}")
    assert removed.status == 204 and removed.body == b""
    assert api.call("GET", "/v1/me", carol["token"]).status == 401
    assert carol["user_id"] not in [u["user_id"] for u in api.call("GET", path, admin["token"]).json()["users"]]


def test_adding_an_existing_user_is_409(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> None:
    resp = api.approved(
        admin, "POST", f"/v1/accounts/{acme['account_id']}/users", {"email": "member@acme.test", "role": "admin"}
    )
    assert resp.status == 409 and resp.json()["error"] == "conflict"


def test_members_cannot_add_or_remove_users(api: Api, acme: dict[str, Any]) -> None:
    admin, member = acme["users"]
    path = f"/v1/accounts/{acme['account_id']}/users"
    resp = api.challenge(member["token"], "POST", path, {"email": "x@acme.test", "role": "member"})
    assert resp.status == 403 and resp.json()["error"] == "forbidden"
    resp = api.challenge(member["token"], "DELETE", f"{path}/{admin['user_id']}")
    assert resp.status == 403


def test_admins_cannot_remove_themselves(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> None:
    resp = api.challenge(admin["token"], "DELETE", f"/v1/accounts/{acme['account_id']}/users/{admin['user_id']}")
    assert resp.status == 403


FOREIGN_TEMPLATE = {"name": "t", "language": "en", "category": "UTILITY", "components": [{"type": "BODY", "text": "x"}]}


def test_other_tenants_resources_answer_exactly_like_missing_ones(api: Api, demo: dict[str, Any]) -> None:
    """§Credentials: a foreign id answers 404 with the same words as an id that does not exist,
    on every route that takes one (ids of other tenants cannot be probed)."""
    acme, globex = demo["accounts"]
    intruder = globex["users"][0]
    foreign_pn, foreign_acc = acme["phone_numbers"][0]["phone_number_id"], acme["account_id"]
    foreign_user = acme["users"][1]["user_id"]

    def routes(pn: str, acc: str) -> list[tuple[str, str, Any, bool]]:
        return [
            ("GET", f"/v1/phone-numbers/{pn}", None, False),
            ("GET", f"/v1/accounts/{acc}/users", None, False),
            ("GET", f"/v1/accounts/{acc}/security-events", None, False),
            ("GET", f"/v1/accounts/{acc}/flags", None, False),
            ("DELETE", f"/v1/phone-numbers/{pn}/api-keys/key_x", None, False),
            ("PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://e.example.com/"}, True),
            ("PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "x"}, True),
            ("POST", f"/v1/phone-numbers/{pn}/api-keys", {}, True),
            ("POST", f"/v1/accounts/{acc}/templates", FOREIGN_TEMPLATE, True),
            ("POST", f"/v1/accounts/{acc}/users", {"email": "e@x.test", "role": "member"}, True),
            ("DELETE", f"/v1/accounts/{acc}/users/{foreign_user}", None, True),
            ("POST", f"/v1/accounts/{acc}/partner-change-requests", {"target_partner_id": "prt_zz"}, True),
        ]

    def ask(method: str, path: str, body: Any, key_action: bool) -> Any:
        if key_action:
            return api.challenge(intruder["token"], method, path, body)
        return api.call(method, path, intruder["token"], body)

    pairs = zip(routes(foreign_pn, foreign_acc), routes("pn_missing", "acc_missing"), strict=True)
    for (m, p, b, k), (_, missing_p, _, _) in pairs:
        foreign, missing = ask(m, p, b, k), ask(m, missing_p, b, k)
        assert foreign.status == missing.status == 404, (m, p, foreign.json())
        assert foreign.json()["error"] == "not_found"
        words = foreign.json()["detail"].replace(foreign_pn, "ID").replace(foreign_acc, "ID")
        assert words == missing.json()["detail"].replace("pn_missing", "ID").replace("acc_missing", "ID"), (m, p)
        assert foreign_acc not in foreign.body.decode() or foreign_acc in p


def test_api_keys_read_only_their_own_phone_number_and_revoke_only_themselves(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    """Review item 12: an integration's key used to read every user's email, the audit log and
    flags, and revoke its sibling keys."""
    one = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "one"}).json()
    two = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "two"}).json()
    acc = acme["account_id"]
    for path in (f"/v1/accounts/{acc}/users", f"/v1/accounts/{acc}/security-events", f"/v1/accounts/{acc}/flags"):
        resp = api.call("GET", path, one["api_key"])
        assert resp.status == 403 and resp.json()["error"] == "forbidden", path
        assert "@" not in resp.body.decode()
    sibling = api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{two['key_id']}", one["api_key"])
    assert sibling.status == 403
    assert api.call("GET", f"/v1/phone-numbers/{pn}", two["api_key"]).status == 200
    itself = api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{one['key_id']}", one["api_key"])
    assert itself.status == 204
    assert api.call("GET", "/v1/me", one["api_key"]).status == 401


def test_partner_admin_acts_on_managed_accounts(api: Api, demo: dict[str, Any]) -> None:
    partner_admin = demo["partner"]["users"][0]
    acme = demo["accounts"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    resp = api.approved(partner_admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://p.example.com/wa"})
    assert resp.status == 200
    assert (
        api.approved(
            partner_admin,
            "POST",
            f"/v1/accounts/{acme['account_id']}/users",
            {"email": "new@acme.test", "role": "member"},
        ).status
        == 201
    )


@pytest.mark.parametrize(
    "body,field",
    [
        ({"url": "http://hooks.example.net/wa"}, "body.url"),
        ({"url": "https://169.254.169.254/latest"}, "body.url"),
        ({"url": "https://localhost/wa"}, "body.url"),
        ({"url": 42}, "body.url"),
        ({}, "body.url"),
        ({"url": "https://ok.example.com/", "extra": 1}, "body.extra"),
        ([], "body"),
    ],
)
def test_invalid_bodies_are_400_before_any_code_is_sent(
    api: Api, admin: dict[str, Any], pn: str, body: Any, field: str
) -> None:
    before = len(api.outbox())
    resp = api.challenge(admin["token"], "PUT", f"/v1/phone-numbers/{pn}/webhook", body)
    assert resp.status == 400, resp.json()
    assert resp.json()["error"] == "invalid_request" and resp.json()["field"] == field
    assert len(api.outbox()) == before


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "Bad Name", "language": "en", "category": "MARKETING", "components": [{}]}, "body.name"),
        ({"name": "ok", "language": "en", "category": "SPAM", "components": [{}]}, "body.category"),
        ({"name": "ok", "language": "en", "category": "UTILITY", "components": []}, "body.components"),
        ({"name": "ok", "language": "en", "category": "UTILITY"}, "body.components"),
    ],
)
def test_template_validation(api: Api, admin: dict[str, Any], acme: dict[str, Any], body: Any, field: str) -> None:
    resp = api.challenge(admin["token"], "POST", f"/v1/accounts/{acme['account_id']}/templates", body)
    assert resp.status == 400 and resp.json()["field"] == field


@pytest.mark.parametrize(
    "body,field",
    [
        ({"about": "x" * 140}, "body.about"),
        ({"description": "x" * 513}, "body.description"),
        ({"websites": ["https://a.test", "https://b.test", "https://c.test"]}, "body.websites"),
        ({"websites": ["javascript:alert(1)"]}, "body.websites"),
        ({"email": "not-an-email"}, "body.email"),
        ({}, "body"),
    ],
)
def test_profile_validation(api: Api, admin: dict[str, Any], pn: str, body: Any, field: str) -> None:
    resp = api.challenge(admin["token"], "PATCH", f"/v1/phone-numbers/{pn}/profile", body)
    assert resp.status == 400 and resp.json()["field"] == field


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"method": "GET", "path": "/v1/me"}, "path"),
        ({"method": "PUT", "path": "/v1/phone-numbers/pn_1/webhook?x=1"}, "path"),
        ({"method": "PUT", "path": "/phone-numbers/pn_1/webhook"}, "path"),
        ({"method": "TRACE", "path": "/v1/me/totp"}, "method"),
        ({"path": "/v1/me/totp"}, "method"),
        ({"method": "POST", "path": "/v1/me/totp", "channel": "sms"}, "channel"),
        ({"method": "POST", "path": "/v1/me/totp", "surprise": True}, "surprise"),
    ],
)
def test_challenge_request_validation(api: Api, admin: dict[str, Any], payload: dict[str, Any], field: str) -> None:
    resp = api.call("POST", "/v1/otp/challenges", admin["token"], payload)
    assert resp.status == 400 and resp.json()["field"] == field


def test_malformed_json_and_oversized_bodies(api: Api, admin: dict[str, Any], pn: str) -> None:
    bad = api.call("POST", "/v1/otp/challenges", admin["token"], raw=b'{"method": ')
    assert bad.status == 400 and bad.json()["field"] == "body"
    big = api.call("POST", "/v1/otp/challenges", admin["token"], raw=b'{"x": "' + b"a" * 70_000 + b'"}')
    assert big.status == 413 and big.json()["error"] == "request_too_large"


def test_security_events_are_paginated_newest_first_and_secret_free(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    created = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "k"}).json()
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://a.example.com/1"})
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://a.example.com/2"})
    path = f"/v1/accounts/{acme['account_id']}/security-events"
    page1 = api.call("GET", f"{path}?limit=2", admin["token"]).json()
    assert len(page1["events"]) == 2 and page1["next_cursor"]
    page2 = api.call("GET", f"{path}?limit=2&cursor={page1['next_cursor']}", admin["token"]).json()
    assert page2["events"] and not {e["event_id"] for e in page1["events"]} & {e["event_id"] for e in page2["events"]}
    every = api.call("GET", path, admin["token"])
    times = [e["at"] for e in every.json()["events"]]
    assert times == sorted(times, reverse=True)
    key_actions = [e for e in every.json()["events"] if e["kind"] == "key_action"]
    assert {e["action"] for e in key_actions} == {"create_api_key", "set_webhook_url"}
    assert all(e["ip"] == "203.0.113.7" and e["user_id"] == admin["user_id"] for e in key_actions)
    assert created["api_key"] not in every.body.decode()
    assert api.call("GET", f"{path}?limit=0", admin["token"]).status == 400
    assert api.call("GET", f"{path}?cursor=garbage", admin["token"]).status == 400


def test_changes_record_who_changed_what(api: Api, admin: dict[str, Any], pn: str) -> None:
    from wabaguard.models import PhoneNumber

    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://a.example.com/1"})
    item = PhoneNumber.get(*PhoneNumber.key(pn))
    assert item.last_change is not None
    assert item.last_change.kind == "webhook_url_set" and item.last_change.by_email == admin["email"]
    assert item.last_change.ip == "203.0.113.7" and item.last_change.user_agent == "pytest/agent"


def test_no_secret_reaches_a_log_or_a_response_but_the_reveal(
    api: Api,
    admin: dict[str, Any],
    acme: dict[str, Any],
    pn: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [admin["token"]]
    responses: list[str] = []
    ch = api.challenge(admin["token"], "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://a.example.com/"})
    code = api.last_code(admin["email"])
    secrets.append(code)
    responses.append(ch.body.decode())
    api.call(
        "PUT",
        f"/v1/phone-numbers/{pn}/webhook",
        admin["token"],
        {"url": "https://a.example.com/"},
        otp=(ch.json()["challenge_id"], f"{(int(code) + 1) % 10**6:06d}"),
    )
    responses.append(
        api.call(
            "PUT",
            f"/v1/phone-numbers/{pn}/webhook",
            admin["token"],
            {"url": "https://a.example.com/"},
            otp=(ch.json()["challenge_id"], code),
        ).body.decode()
    )
    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "k"}).json()["api_key"]
    added = api.approved(
        admin, "POST", f"/v1/accounts/{acme['account_id']}/users", {"email": "d@acme.test", "role": "member"}
    )
    responses.append(added.body.decode())
    invite = api.invite_link("d@acme.test").rsplit("/", 1)[1]  # its email is the one place it goes
    user = api.accept_invite("d@acme.test")
    totp = api.approved(admin, "POST", "/v1/me/totp").json()["otpauth_uri"]
    import pyotp

    seed = pyotp.parse_uri(totp).secret
    secrets += [key, user, seed]
    responses.append(api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).body.decode())
    responses.append(api.call("GET", f"/v1/accounts/{acme['account_id']}/users", admin["token"]).body.decode())
    responses.append(
        api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).body.decode()
    )
    responses.append(api.call("GET", "/v1/me", admin["token"]).body.decode())
    # the stream and scan paths log too: notices for every change above, and a scan with a flag
    api.world.pump.pump()
    from wabaguard.ingest import ingest

    ingest(
        [
            {
                "account_id": acme["account_id"],
                "kind": "otp_locked",
                "user_id": admin["user_id"],
                "at": "2026-11-24T10:00:00Z",
                "ip": "203.0.113.9",
            }
        ]
    )
    assert api.world.run_schedule("RiskScanFunction")["flags"]
    api.world.pump.pump()
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    for line in ("denied", "change notified", "flag raised", "risk scan done"):
        assert line in logs  # every handler path was captured
    import re

    def leaks(secret: str, text: str) -> bool:
        # a 6-digit code is a secret only as a whole number: it also occurs by chance inside
        # epoch-millisecond timestamps of the logs (CI once found "186471" in "1795741186471")
        return bool(re.search(rf"(?<![0-9A-Za-z_]){re.escape(secret)}(?![0-9A-Za-z_])", text))

    for secret in [*secrets, invite]:
        assert not leaks(secret, logs)
        for body in responses:
            assert not leaks(secret, body)
    notices = json.dumps([m for m in api.outbox() if "code is" not in m["text"]])
    for secret in secrets:
        assert not leaks(secret, notices)
