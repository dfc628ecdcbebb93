"""§Mail delivery: SES's own events, matched to what was sent — per event type, out of order and
twice; what a failure sets off (email status, the admins told and never the bouncing address, the
event, the hygiene flag, a bounced code shown on its challenge); the Partner change that waits for a
delivered notice (the clock injected); repair by a new address."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.mail_events import envelope, ses_events
from devstack.server import World
from tests.integration.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "ses"
MAIL = "MailEventsFunction"


def deliveries(to: str) -> list[Any]:
    from wabaguard.models import MailDelivery

    return [d for d in MailDelivery.scan() if isinstance(d, MailDelivery) and d.recipient == to]


def user_status(api: Api, admin: dict[str, Any], account_id: str) -> dict[str, str]:
    users = api.call("GET", f"/v1/accounts/{account_id}/users", admin["token"]).json()["users"]
    return {u["email"]: u["email_status"] for u in users}


def add_user(api: Api, world: World, admin: dict[str, Any], account_id: str, email: str, role: str = "member") -> Any:
    resp = api.approved(admin, "POST", f"/v1/accounts/{account_id}/users", {"email": email, "role": role})
    assert resp.status == 201, resp.json()
    world.pump.pump()  # the invite goes out, SES answers (the local stack's simulator)
    return resp.json()


def sample(name: str, message_id: str, to: str) -> dict[str, Any]:
    """AWS's documented example of an event type, about one email of ours, in EventBridge's envelope."""
    event = json.loads((SAMPLES / f"{name}.json").read_text())
    detail = event["detail"]
    detail["mail"]["messageId"] = message_id
    detail["mail"]["destination"] = [to]
    for part, key in (("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients"),
                      ("deliveryDelay", "delayedRecipients")):  # fmt: skip
        if part in detail:
            for r in detail[part][key]:
                r["emailAddress"] = to
    if "delivery" in detail:
        detail["delivery"]["recipients"] = [to]
    return event


def invoke(world: World, event: dict[str, Any]) -> dict[str, Any]:
    out = world.functions.invoke(MAIL, event)
    world.pump.pump()
    assert isinstance(out, dict)
    return out


def notice_to(api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], to: str) -> str:
    """A change everyone of Acme hears of; the message id of its notice to ``to``."""
    phone = acme["phone_numbers"][0]["phone_number_id"]
    about = f"mail test {len(api.outbox())}"
    assert api.approved(admin, "PATCH", f"/v1/phone-numbers/{phone}/profile", {"about": about}).status == 200
    world.pump.pump()
    return max((d for d in deliveries(to) if d.kind == "notice"), key=lambda d: d.sent_at).message_id


# ------------------------------------------------------------------ per event type
def test_every_email_is_recorded_and_delivered_ones_are_marked_delivered(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    add_user(api, world, admin, acme["account_id"], "new.person@acme.test")
    (invite,) = deliveries("new.person@acme.test")
    assert invite.kind == "invite" and invite.status == "delivered" and invite.account_id == acme["account_id"]
    notices = [d for u in acme["users"] for d in deliveries(u["email"]) if d.kind == "notice"]
    assert notices and all(d.status == "delivered" and d.change_id for d in notices)
    codes = [d for d in deliveries(admin["email"]) if d.kind == "code"]
    assert codes and codes[0].challenge_id
    events = world.mail_events.events()
    assert {e["detail-type"] for e in events} == {"Email Delivered"} and all(e["source"] == "aws.ses" for e in events)
    # SES publishes one event per recipient of a message (moto lists a raw email's recipient twice)
    pairs = [(e["detail"]["mail"]["messageId"], tuple(e["detail"]["delivery"]["recipients"])) for e in events]
    assert len(pairs) == len(set(pairs))


@pytest.mark.parametrize(
    ("name", "status", "email_status"),
    [("bounce", "bounced", "bouncing"), ("complaint", "complained", "complained"), ("reject", "rejected", "bouncing")],
)
def test_a_failed_notice_marks_the_address_tells_the_other_admins_and_flags_hygiene(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], demo: dict[str, Any],
    name: str, status: str, email_status: str,
) -> None:  # fmt: skip
    member = acme["users"][1]["email"]
    message_id = notice_to(api, world, admin, acme, member)
    before = len(api.outbox())
    out = invoke(world, sample(name, message_id, member))
    assert out[status] == 1 and out["told"] == 1
    (delivery,) = [d for d in deliveries(member) if d.message_id == message_id]
    assert delivery.status == status and delivery.detail
    assert user_status(api, admin, acme["account_id"])[member] == email_status
    told = [m for m in api.outbox()[before:] if "did not arrive" in m["subject"]]
    admins = {u["email"] for u in acme["users"] if u["role"] == "admin"} | {demo["partner"]["users"][0]["email"]}
    assert {m["to"] for m in told} == admins and member not in {m["to"] for m in told}  # never the bouncing address
    assert all(member in m["text"] for m in told)
    flags = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()["flags"]
    (hygiene,) = [f for f in flags if f["rule"] == "unreachable_users"]
    assert hygiene["severity"] == "low" and member in hygiene["explanation"]
    # the same event again, and a delivery arriving after the failure: nothing more happens
    assert invoke(world, sample(name, message_id, member))["duplicates"] == 1
    late = invoke(world, sample("delivery", message_id, member))
    assert late["told"] == 0 and next(d for d in deliveries(member) if d.message_id == message_id).status == status
    assert len([m for m in api.outbox()[before:] if "did not arrive" in m["subject"]]) == len(admins)


def test_the_failure_is_a_typed_security_event(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    from wabaguard.models import Account, MailFailure, account_pk
    from wabaguard.webhooks import events

    message_id = notice_to(api, world, admin, acme, admin["email"])
    invoke(world, sample("bounce", message_id, admin["email"]))
    (failure,) = list(MailFailure.query(account_pk(acme["account_id"]), MailFailure.sk.startswith("MAILFAIL#")))
    account = Account.get(*Account.key(acme["account_id"]))
    event = events.build(None, failure, account, "Security mail did not arrive")
    assert event is not None and event.type == "notice.undeliverable"
    data = json.loads(event.payload())["data"]
    assert data["email"]["recipient"] == admin["email"] and data["email"]["status"] == "bounced"


# ------------------------------------------------------------------ order and repeats
def test_a_delivery_after_a_delay_ends_delivered_and_a_delay_after_a_delivery_changes_nothing(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.models import MailDelivery, mail_pk

    from devstack import mail_events

    monkeypatch.setattr(world.mail_events, "targets", [])  # SES says nothing yet about the first one
    first = notice_to(api, world, admin, acme, admin["email"])
    monkeypatch.undo()
    assert mail_events.outcome(admin["email"]) == "delivery"
    second = notice_to(api, world, admin, acme, admin["email"])  # delivered at once
    assert invoke(world, sample("delivery_delay", first, admin["email"]))["delayed"] == 1
    assert MailDelivery.get(mail_pk(first)).status == "delayed"
    assert invoke(world, sample("delivery", first, admin["email"]))["delivered"] == 1
    assert MailDelivery.get(mail_pk(first)).status == "delivered"
    invoke(world, sample("delivery_delay", second, admin["email"]))  # arrives after its delivery
    assert MailDelivery.get(mail_pk(second)).status == "delivered"


def test_an_unknown_message_id_is_counted_and_a_foreign_event_is_ignored(world: World, demo: Any) -> None:
    assert invoke(world, sample("bounce", "0100019999-unknown-000000", "x@example.com"))["unknown"] == 1
    assert world.functions.invoke(MAIL, {"source": "aws.ses", "detail-type": "Email Opened", "detail": {}}) == {
        "ignored": 1
    }


def test_the_samples_are_awss_documented_shapes_and_the_local_emitter_matches_them(demo: Any) -> None:
    for name in ("delivery", "bounce", "complaint", "reject", "delivery_delay"):
        event = json.loads((SAMPLES / f"{name}.json").read_text())
        assert event["source"] == "aws.ses" and set(event["detail"]) >= {"eventType", "mail"}
    emitted = [envelope(e, "us-east-1", "cs") for e in ses_events("m1", "a@b.test", "x+bounce@acme.test", "s", "cs",
                                                                    "us-east-1")]  # fmt: skip
    documented = json.loads((SAMPLES / "bounce.json").read_text())
    assert set(emitted[0]) == set(documented) and set(emitted[0]["detail"]["bounce"]) >= set(
        documented["detail"]["bounce"]
    ) - {"remoteMtaIp"}


# ------------------------------------------------------------------ the code email
def test_a_bounced_code_email_shows_on_its_challenge_so_the_client_offers_another_channel(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    body = {"email": "typo+bounce@acme.test", "role": "member"}
    resp = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/users", body)
    assert resp.status == 201
    world.pump.pump()
    new_id = resp.json()["user_id"]
    assert user_status(api, admin, acme["account_id"])["typo+bounce@acme.test"] == "bouncing"
    # a challenge's code email: its delivery on GET
    path = f"/v1/accounts/{acme['account_id']}/users/{new_id}"
    ch = api.challenge(admin["token"], "DELETE", path).json()
    seen = api.call("GET", f"/v1/otp/challenges/{ch['challenge_id']}", admin["token"])
    assert seen.status == 200 and seen.json()["delivery"] == "sent"
    world.pump.pump()
    assert api.call("GET", f"/v1/otp/challenges/{ch['challenge_id']}", admin["token"]).json()["delivery"] == "delivered"
    other = acme["users"][1]
    assert api.call("GET", f"/v1/otp/challenges/{ch['challenge_id']}", other["token"]).status == 404
    # the admin's own address starts bouncing: their next code shows it
    from wabaguard.models import Challenge, MailDelivery, challenge_pk, mail_pk

    ch2 = api.challenge(admin["token"], "DELETE", path).json()
    message_id = Challenge.get(challenge_pk(ch2["challenge_id"])).mail_message_id
    invoke(world, sample("bounce", message_id, admin["email"]))
    view = api.call("GET", f"/v1/otp/challenges/{ch2['challenge_id']}", admin["token"]).json()
    assert view["delivery"] == "bounced" and MailDelivery.get(mail_pk(message_id)).kind == "code"


# ------------------------------------------------------------------ repair
def test_an_admin_sets_a_working_address_and_the_status_clears_on_the_next_delivery(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    made = add_user(api, world, admin, acme["account_id"], "gone+bounce@acme.test")
    assert user_status(api, admin, acme["account_id"])["gone+bounce@acme.test"] == "bouncing"
    before = len(api.outbox())
    path = f"/v1/accounts/{acme['account_id']}/users/{made['user_id']}/email"
    resp = api.approved(admin, "PUT", path, {"email": "back@acme.test"})
    expected = {"user_id": made["user_id"], "account_id": acme["account_id"], "email": "back@acme.test"}
    assert resp.status == 200 and resp.json() == {**expected, "email_status": "pending"}
    assert user_status(api, admin, acme["account_id"])["back@acme.test"] == "pending"
    world.pump.pump()  # the notice of the change, to everyone (the new address too): delivered
    told = {m["to"] for m in api.outbox()[before:] if "Email address of gone+bounce@acme.test changed" in m["subject"]}
    assert {"back@acme.test", "gone+bounce@acme.test", admin["email"]} <= told  # the old address hears of it
    assert user_status(api, admin, acme["account_id"])["back@acme.test"] == "ok"
    flags = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()["flags"]
    (hygiene,) = [f for f in flags if f["rule"] == "unreachable_users"]
    assert hygiene["status"] == "resolved"  # everyone is reachable again: the flag closed itself


def test_a_user_changes_their_own_address_as_a_key_action(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    member = acme["users"][1]
    assert api.call("PUT", "/v1/me/email", member["token"], {"email": "m2@acme.test"}).json()["error"] == "otp_required"
    resp = api.approved(member, "PUT", "/v1/me/email", {"email": "m2@acme.test"})
    assert resp.status == 200 and resp.json()["email"] == "m2@acme.test"
    assert api.call("GET", "/v1/me", member["token"]).json()["email"] == "m2@acme.test"
    code_to = api.challenge(member["token"], "PUT", "/v1/me/email", {"email": "m3@acme.test"})
    assert code_to.status == 201 and api.outbox()[-1]["to"] == "m2@acme.test"  # codes go to the new address
    bad = api.challenge(member["token"], "PUT", "/v1/me/email", {"email": admin["email"]})
    assert bad.status == 409  # an address another user of the account has


@pytest.mark.parametrize("body", [{"email": "not-an-address"}, {"email": ""}, {}, {"email": "a@b.test", "x": 1}])
def test_a_bad_address_is_a_400_naming_the_field_before_any_code(
    api: Api, acme: dict[str, Any], admin: dict[str, Any], body: dict[str, Any]
) -> None:
    resp = api.challenge(admin["token"], "PUT", "/v1/me/email", body)
    assert resp.status == 400 and resp.json()["error"] == "invalid_request"


# ------------------------------------------------------------------ the Partner change waits
def _request(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> dict[str, Any]:
    resp = api.approved(
        admin, "POST", f"/v1/accounts/{acme['account_id']}/partner-change-requests", {"target_partner_id": "prt_next"}
    )
    assert resp.status == 201, resp.json()
    return dict(resp.json())


def _listed(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> dict[str, Any]:
    return dict(api.call("GET", f"/v1/accounts/{acme['account_id']}/partner-change-requests", admin["token"]).json()[
        "requests"][0])  # fmt: skip


def test_a_partner_change_waits_until_another_admin_has_a_delivered_notice(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], demo: dict[str, Any],
    moving: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # every notice bounces except the requester's own: nobody else who could cancel it was told
    from devstack import mail_events

    real = mail_events.outcome
    monkeypatch.setattr(mail_events, "outcome", lambda a: "delivery" if a == admin["email"] else "bounce")
    _request(api, admin, acme)
    world.pump.pump()
    moving["now"] += timedelta(hours=25)
    out = world.run_schedule("PartnerChangeFunction")
    assert out["submitted"] == 0 and out["held"] == 1
    listed = _listed(api, admin, acme)
    assert listed["status"] == "COOLING_OFF" and listed["timeline"][-1]["event"] == "waiting"
    moving["now"] += timedelta(minutes=2)
    world.run_schedule("PartnerChangeFunction")
    assert [e["event"] for e in _listed(api, admin, acme)["timeline"]].count("waiting") == 1  # said once
    # the Partner's admin receives a notice of it (a later one, delivered): now it goes
    monkeypatch.setattr(mail_events, "outcome", real)
    from wabaguard.models import PartnerChangeRequest, account_pk

    (req,) = list(
        PartnerChangeRequest.query(account_pk(acme["account_id"]), PartnerChangeRequest.sk.startswith("PCR#"))
    )
    partner_admin = demo["partner"]["users"][0]["email"]
    bounced = next(d for d in deliveries(partner_admin) if d.item_sk == req.sk)
    from wabaguard.models import MailDelivery, mail_pk

    MailDelivery(mail_pk(bounced.message_id)).update(actions=[MailDelivery.status.set("sent")])  # as if not yet heard
    invoke(world, sample("delivery", bounced.message_id, partner_admin))
    moving["now"] += timedelta(minutes=2)
    assert world.run_schedule("PartnerChangeFunction")["submitted"] == 1


def test_a_partner_change_whose_notices_never_arrive_expires_and_is_told(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from devstack import mail_events

    monkeypatch.setattr(mail_events, "outcome", lambda a: "delivery" if a == admin["email"] else "bounce")
    _request(api, admin, acme)
    world.pump.pump()
    moving["now"] += timedelta(hours=25)
    world.run_schedule("PartnerChangeFunction")
    moving["now"] += timedelta(days=7)
    assert world.run_schedule("PartnerChangeFunction")["expired"] == 1
    world.pump.pump()
    listed = _listed(api, admin, acme)
    assert listed["status"] == "EXPIRED" and "received a notice" in listed["timeline"][-1]["detail"]
    assert [m for m in api.outbox() if "Partner change for Acme Shoes expired" in m["subject"]]


def test_with_no_other_admin_the_requesters_own_delivered_notice_is_what_counts(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from devstack import mail_events
    from devstack.seed import create_account, create_user

    solo = create_account("Solo Shop", waba_id="987654321098765")  # no Partner, one admin
    admin = create_user(solo, "owner@solo.test", "admin")
    real = mail_events.outcome
    monkeypatch.setattr(mail_events, "outcome", lambda a: "bounce" if a == admin["email"] else real(a))
    resp = api.approved(
        admin, "POST", f"/v1/accounts/{solo.account_id}/partner-change-requests", {"target_partner_id": "prt_next"}
    )
    assert resp.status == 201, resp.json()
    world.pump.pump()
    moving["now"] += timedelta(hours=25)
    assert world.run_schedule("PartnerChangeFunction")["held"] == 1  # not even the requester has it
    monkeypatch.setattr(mail_events, "outcome", real)
    from wabaguard.models import MailDelivery, mail_pk

    (notice,) = [d for d in deliveries(admin["email"]) if d.kind == "notice" and d.item_sk.startswith("PCR#")]
    MailDelivery(mail_pk(notice.message_id)).update(actions=[MailDelivery.status.set("sent")])
    invoke(world, sample("delivery", notice.message_id, admin["email"]))
    moving["now"] += timedelta(minutes=2)
    assert world.run_schedule("PartnerChangeFunction")["submitted"] == 1
