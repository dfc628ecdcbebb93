"""§Meta webhooks: the handshake, the signature, each change recorded once, notices and flags as
the table says, template statuses moved — with the sample payloads of events/meta/."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from devstack.server import World
from tests.integration.conftest import Api

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "meta"


def sample(name: str, acme: dict[str, Any], **value: Any) -> dict[str, Any]:
    """A sample from events/meta, addressed to Acme's WABA and phone number, at the test's clock."""
    from wabaguard import clock

    body = json.loads((SAMPLES / f"{name}.json").read_text())
    phone = acme["phone_numbers"][0]["display_phone_number"]
    for entry in body["entry"]:
        entry["id"] = acme["waba_id"]
        entry["time"] = int(clock.now())
        for change in entry["changes"]:
            for key in ("display_phone_number", "phone_number"):
                if key in change["value"]:
                    change["value"][key] = phone
            change["value"].update(value)
    return body


def post(api: Api, world: World, body: Any, secret: str | None = None, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body).encode()
    key = (secret if secret is not None else world.meta["app_secret"]).encode()
    signature = "sha256=" + hmac.new(key, data, hashlib.sha256).hexdigest()
    return api.call("POST", "/v1/meta/webhook", raw=data, headers={"X-Hub-Signature-256": signature})


def told(api: Api, words: str) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if words in m["subject"]]


def flags_of(api: Api, admin: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    return list(api.call("GET", f"/v1/accounts/{account_id}/flags", admin["token"]).json()["flags"])


def meta_events(api: Api, admin: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    events = api.call("GET", f"/v1/accounts/{account_id}/security-events", admin["token"]).json()["events"]
    return [e for e in events if e["kind"] == "meta_event"]


# ------------------------------------------------------------------ handshake and signature
def test_the_subscription_handshake_answers_the_challenge_as_plain_text(api: Api, world: World, demo: Any) -> None:
    token = world.meta["verify_token"]
    ok = api.call("GET", f"/v1/meta/webhook?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444")
    assert ok.status == 200 and ok.body == b"1158201444" and ok.headers["Content-Type"].startswith("text/plain")
    wrong = api.call("GET", "/v1/meta/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
    assert wrong.status == 403 and wrong.json()["error"] == "forbidden"
    missing = api.call("GET", "/v1/meta/webhook?hub.mode=subscribe")
    assert missing.status == 400


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "sha256=", "wrong-secret"])
def test_a_missing_or_wrong_signature_is_401_and_records_nothing(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], signature: str | None
) -> None:
    data = json.dumps(sample("security_pin_changed", acme)).encode()
    if signature == "wrong-secret":
        resp = post(api, world, None, secret="not-the-app-secret", raw=data)
    else:
        resp = api.call(
            "POST", "/v1/meta/webhook", raw=data, headers={"X-Hub-Signature-256": signature} if signature else {}
        )
    assert resp.status == 401 and resp.json()["error"] == "unauthorized"
    world.pump.pump()
    assert meta_events(api, admin, acme["account_id"]) == [] and not told(api, "WhatsApp reported")


def test_the_signature_is_over_the_raw_bytes(api: Api, world: World, acme: dict[str, Any]) -> None:
    """Re-serialising the JSON (other spacing) breaks the signature, as it does at Meta."""
    body = sample("security_pin_changed", acme)
    data = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(world.meta["app_secret"].encode(), data, hashlib.sha256).hexdigest()
    respaced = json.dumps(body, indent=2).encode()
    resp = api.call("POST", "/v1/meta/webhook", raw=respaced, headers={"X-Hub-Signature-256": signature})
    assert resp.status == 401


# ------------------------------------------------------------------ the table of §Meta webhooks
@pytest.mark.parametrize(
    ("name", "severity", "notice"),
    [
        ("security_pin_changed", "medium", None),
        ("security_pin_reset_request", "medium", None),
        ("security_pin_request_success", "high", None),
        ("account_update_partner_added", "high", None),
        ("account_update_partner_removed", "high", None),
        ("account_update_partner_app_uninstalled", "high", None),
        ("account_update_account_violation", "medium", None),
        ("account_update_account_restriction", "medium", None),
        ("account_update_disabled_update", "medium", None),
        ("phone_number_name_update", None, "WhatsApp reported"),
    ],
)
def test_each_signal_is_recorded_told_and_flagged_as_the_table_says(
    api: Api,
    world: World,
    acme: dict[str, Any],
    admin: dict[str, Any],
    name: str,
    severity: str | None,
    notice: str | None,
) -> None:
    resp = post(api, world, sample(name, acme))
    assert resp.status == 200 and resp.json()["recorded"] == 1
    world.pump.pump()
    (event,) = meta_events(api, admin, acme["account_id"])
    if not name.startswith("account_update_partner"):  # Partner events name no phone number
        assert event["phone_number_id"] == acme["phone_numbers"][0]["phone_number_id"]
    flags = flags_of(api, admin, acme["account_id"])
    if severity:
        (flag,) = flags
        assert flag["severity"] == severity and flag["rule"].startswith("meta_")
        assert "Meta reported" in flag["explanation"]
    else:
        assert flags == []
    users = sorted(u["email"] for u in acme["users"])
    mails = [m for m in api.outbox() if m["subject"].startswith("[wabaguard]")]
    assert sorted({m["to"] for m in mails} & set(users)) == users  # every user told (flag or notice)
    for mail in mails:
        assert "wabaguard monitoring" not in mail["text"] or severity
    if notice:
        assert all("+4930" in m["text"] or "+49 30" in m["text"] for m in told(api, notice))
    account = api.call("GET", "/v1/me", admin["token"]).json()
    assert account["account"]["account_id"] == acme["account_id"]


def test_a_pin_notice_names_the_number_what_when_and_what_to_do(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    post(api, world, sample("security_pin_changed", acme))
    post(api, world, sample("security_pin_changed", acme, requester="another"))  # the flag is open: a notice
    world.pump.pump()
    (mail, *_) = told(api, "WhatsApp reported")
    digits = acme["phone_numbers"][0]["display_phone_number"]
    assert f"+{digits}" in mail["text"] and "two-step verification PIN" in mail["text"]
    assert "When: " in mail["text"] and " UTC" in mail["text"] and "re-register the number" in mail["text"]
    users = {u["email"] for u in acme["users"]}
    assert sorted(m["to"] for m in told(api, "WhatsApp reported") if m["to"] in users) == sorted(users)


def submitted_partner_change(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> tuple[str, Any]:
    """A Partner change to a Partner known at Meta (business 880000000000001), submitted."""
    from datetime import timedelta

    from wabaguard import clock, partner_change

    from devstack.seed import create_account

    target = create_account("Contoso Partners", kind="partner")
    target.update(actions=[target.__class__.meta_business_id.set("880000000000001")])
    body = {"target_partner_id": target.account_id}
    resp = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/partner-change-requests", body)
    assert resp.status == 201
    api.world.pump.pump()  # its notices go out and are delivered (§Mail delivery: the submission waits for that)
    assert partner_change.run_due(clock.utcnow() + timedelta(hours=25)).submitted == 1  # after its cooling-off
    return target.account_id, resp


def partner_added(acme: dict[str, Any], *business_ids: str) -> dict[str, Any]:
    body = sample("account_update_partner_added", acme)
    body["entry"][0]["changes"][0]["value"]["waba_info"]["solution_partner_business_ids"] = list(business_ids)
    return body


def test_a_partner_event_matching_an_approved_partner_change_is_not_flagged(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    _, resp = submitted_partner_change(api, admin, acme)
    assert post(api, world, partner_added(acme, "880000000000001")).status == 200
    world.pump.pump()
    assert flags_of(api, admin, acme["account_id"]) == []
    (mail, *_) = told(api, "WhatsApp reported")
    assert resp.json()["request_id"] in mail["text"]


def test_a_submitted_partner_change_explains_only_its_own_partner_once(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    """Issue 20.3: one submitted request used to silence every Partner alarm for 30 days."""
    submitted_partner_change(api, admin, acme)
    assert post(api, world, partner_added(acme, "990000000000009")).status == 200  # another Partner
    assert post(api, world, sample("account_update_partner_added", acme)).status == 200  # names none
    first = partner_added(acme, "880000000000001")
    assert post(api, world, first).json()["recorded"] == 1  # explained
    assert post(api, world, first).json()["duplicates"] == 1  # Meta's redelivery: nothing new
    second = partner_added(acme, "880000000000001")
    second["entry"][0]["time"] += 60  # a second event for the same Partner: not explained again
    assert post(api, world, second).json()["recorded"] == 1
    world.pump.pump()
    flagged = [f for f in flags_of(api, admin, acme["account_id"]) if f["rule"] == "meta_partner_change"]
    assert len(flagged) == 1  # open flags of one rule are not repeated; the first alarm stands
    events = meta_events(api, admin, acme["account_id"])
    assert len(events) == 4


def test_template_status_events_move_the_template(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    tpl = {
        "name": "order_shipped",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Hi"}],
    }
    assert api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", tpl).status == 201
    world.pump.pump()  # applied at the stand-in: Meta's id is known
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/templates", admin["token"]).json()["templates"]
    meta_id = listed[0]["meta_template_id"]
    approved = sample("message_template_status_update_approved", acme, message_template_id=int(meta_id))
    assert post(api, world, approved).json()["recorded"] == 1
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/templates", admin["token"]).json()["templates"]
    assert listed[0]["status"] == "APPROVED"
    world.pump.pump()
    assert not told(api, "WhatsApp reported") and flags_of(api, admin, acme["account_id"]) == []
    scam = sample("message_template_status_update_rejected_scam", acme, message_template_id=int(meta_id))
    assert post(api, world, scam).json()["recorded"] == 1
    world.pump.pump()
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/templates", admin["token"]).json()["templates"]
    assert listed[0]["status"] == "REJECTED" and listed[0]["status_reason"] == "SCAM"
    (flag,) = flags_of(api, admin, acme["account_id"])
    assert flag["rule"] == "meta_template_scam" and flag["severity"] == "medium"


def test_other_fields_are_recorded_only(api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]) -> None:
    assert post(api, world, sample("phone_number_quality_update_other", acme)).json()["recorded"] == 1
    world.pump.pump()
    assert len(meta_events(api, admin, acme["account_id"])) == 1
    assert not told(api, "WhatsApp") and flags_of(api, admin, acme["account_id"]) == []


# ------------------------------------------------------------------ once, unknown, batches, malformed
def test_a_redelivered_change_is_recorded_and_told_once(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    body = sample("phone_number_name_update", acme)
    first = post(api, world, body)
    again = post(api, world, body)
    assert first.json()["recorded"] == 1
    assert again.json() == {"recorded": 0, "duplicates": 1, "unknown_waba": 0, "stale": 0}
    results: list[Any] = []
    other = sample("security_pin_changed", acme)
    threads = [threading.Thread(target=lambda: results.append(post(api, world, other).json())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["recorded"] for r in results) == 1 and sum(r["duplicates"] for r in results) == 3
    world.pump.pump()
    assert len(meta_events(api, admin, acme["account_id"])) == 2


def test_an_unknown_waba_is_counted_and_answered_200(api: Api, world: World, acme: dict[str, Any]) -> None:
    body = sample("security_pin_changed", acme)
    body["entry"][0]["id"] = "999999999999999"
    resp = post(api, world, body)
    assert resp.status == 200 and resp.json() == {"recorded": 0, "duplicates": 0, "unknown_waba": 1, "stale": 0}


def test_a_batch_of_entries_and_changes_is_recorded_change_by_change(
    api: Api, world: World, demo: dict[str, Any], admin: dict[str, Any]
) -> None:
    acme, globex = demo["accounts"]
    body = sample("phone_number_name_update", acme)
    body["entry"][0]["changes"] = [
        {"field": "phone_number_quality_update", "value": {"display_phone_number": "1", "event": "UPGRADE", "n": i}}
        for i in range(300)
    ]
    second = sample("security_pin_changed", globex)
    body["entry"].append(second["entry"][0])
    resp = post(api, world, body)
    assert resp.status == 200 and resp.json()["recorded"] == 301


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"object": "page", "entry": []}', "object"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry"),
        (b'{"object": "whatsapp_business_account", "entry": [{"changes": []}]}', "entry[0].id"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": {}}]}]}',
            "entry[0].changes[0].field",
        ),
    ],
)
def test_a_malformed_but_signed_body_is_a_400_naming_the_field(
    api: Api, world: World, demo: Any, body: bytes, field: str
) -> None:
    resp = post(api, world, None, raw=body)
    assert resp.status == 400 and resp.json()["field"] == field


def test_more_than_metas_batch_size_is_refused(api: Api, world: World, acme: dict[str, Any]) -> None:
    body = sample("phone_number_name_update", acme)
    body["entry"][0]["changes"] = body["entry"][0]["changes"] * 1001
    resp = post(api, world, body)
    assert resp.status == 400 and "1000" in resp.json()["detail"]


# ------------------------------------------------------------------ issue 20: 7, 8, 12
def test_a_signed_body_nested_too_deep_is_a_400(api: Api, world: World, demo: Any) -> None:
    deep = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    resp = post(api, world, None, raw=deep)
    assert resp.status == 400 and resp.json()["field"] == "body" and "deeper" in resp.json()["detail"]


def test_a_captured_body_older_than_its_marker_is_not_recorded_again(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    from datetime import timedelta

    body = sample("security_pin_changed", acme)
    assert post(api, world, body).json()["recorded"] == 1
    moving["now"] += timedelta(hours=49)  # the 48 h marker is gone
    again = post(api, world, body).json()
    assert again["recorded"] == 0 and again["stale"] == 1
    assert len(meta_events(api, admin, acme["account_id"])) == 1


@pytest.mark.parametrize("time_value", [None, "x", True, -5])
def test_an_entry_without_a_valid_time_is_a_400_naming_it(
    api: Api, world: World, acme: dict[str, Any], time_value: Any
) -> None:
    body = sample("security_pin_changed", acme)
    if time_value is None:
        del body["entry"][0]["time"]
    else:
        body["entry"][0]["time"] = time_value
    resp = post(api, world, body)
    assert resp.status == 400 and resp.json()["field"] == "entry[0].time"


def test_the_handshake_answer_is_not_sniffed(api: Api, world: World, demo: Any) -> None:
    query = f"hub.mode=subscribe&hub.verify_token={world.meta['verify_token']}&hub.challenge=%3Cscript%3E"
    ok = api.call("GET", f"/v1/meta/webhook?{query}")
    assert ok.status == 200 and ok.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("value", ["missing", None, "text", [1]])
def test_a_signed_change_without_an_object_value_is_a_400_naming_it(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], value: Any
) -> None:
    body = sample("security_pin_changed", acme)
    change = body["entry"][0]["changes"][0]
    if value == "missing":
        del change["value"]
    else:
        change["value"] = value
    resp = post(api, world, body)
    assert resp.status == 400 and resp.json()["field"] == "entry[0].changes[0].value"
    assert meta_events(api, admin, acme["account_id"]) == []


def test_a_flag_notice_names_the_accounts_phone_and_each_piece_of_evidence_once(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    """Issue 22.7: the notice used to show Meta's digits and four identical evidence lines."""
    assert post(api, world, sample("security_pin_request_success", acme)).json()["recorded"] == 1
    world.pump.pump()
    (mail, *_) = [m for m in api.outbox() if m["to"] == admin["email"] and "Finding" in m["text"]]
    display = acme["phone_numbers"][0]["display"]
    assert f"Phone number: {display}" in mail["text"]
    evidence = [line for line in mail["text"].splitlines() if line.startswith("Evidence ")]
    texts = [line.split(":", 1)[1] for line in evidence]
    assert len(evidence) >= 2 and len(set(texts)) == len(texts), evidence
    assert any("PIN_REQUEST_SUCCESS" in t for t in texts)
