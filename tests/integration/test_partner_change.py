"""§Partner change: cooling-off, cancel (route and single-use links whose GET does nothing), a
second admin's approval, the scheduled submission with the clock injected, and the races between
cancel, approve and submit settled by conditional writes."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest

from devstack.server import World
from tests.integration.conftest import Api

HOURS = timedelta(hours=1)


def request(api: Api, user: dict[str, Any], account_id: str, target: str = "prt_next") -> Any:
    return api.approved(
        user, "POST", f"/v1/accounts/{account_id}/partner-change-requests", {"target_partner_id": target}
    )


def requests(api: Api, user: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    resp = api.call("GET", f"/v1/accounts/{account_id}/partner-change-requests", user["token"])
    assert resp.status == 200, resp.json()
    return list(resp.json()["requests"])


def run(world: World, moving: dict[str, Any], after: timedelta) -> Any:
    world.pump.pump()  # what was asked is told (and delivered, §Mail delivery) long before the schedule's time
    moving["now"] += after
    out = world.run_schedule("PartnerChangeFunction")
    world.pump.pump()
    return out


def cancel_links(api: Api) -> dict[str, str]:
    """Each recipient's cancel link (token) from the request notices."""
    out = {}
    for mail in api.outbox():
        found = re.search(r"/v1/partner-change/cancel/(\S+)", mail["text"])
        if found:
            out[mail["to"]] = found.group(1)
    return out


def subjects(api: Api, words: str) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if words in m["subject"]]


def second_admin(api: Api, admin: dict[str, Any], acme: dict[str, Any]) -> dict[str, Any]:
    body = {"email": "second@acme.test", "role": "admin"}
    user = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/users", body).json()
    return {**user, "email": "second@acme.test", "token": api.accept_invite("second@acme.test")}


# ------------------------------------------------------------------ request, notices, links
def test_a_request_waits_in_cooling_off_and_everyone_gets_their_own_cancel_link(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    resp = request(api, admin, acme["account_id"])
    assert resp.status == 201, resp.json()
    out = resp.json()
    assert out["status"] == "COOLING_OFF" and out["needs_approval"] is False
    assert out["submit_after"] == "2026-11-25T12:00:00Z"  # T0 + 24 h
    assert [e["event"] for e in out["timeline"]] == ["requested"]
    world.pump.pump()
    links = cancel_links(api)
    partner_admin = demo["partner"]["users"][0]["email"]
    assert set(links) == {u["email"] for u in acme["users"]} | {partner_admin}
    assert len(set(links.values())) == len(links)  # one link each
    mail = subjects(api, "Partner change requested for Acme Shoes")[0]
    assert "Wed 25 Nov 2026, 12:00 UTC" in mail["text"] and "Next Partners" in mail["text"]
    (listed,) = requests(api, acme["users"][1], acme["account_id"])  # members read it too
    assert listed["request_id"] == out["request_id"] and listed["status"] == "COOLING_OFF"


def test_one_open_request_per_account_refused_before_a_code(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    first = request(api, admin, acme["account_id"]).json()
    sent = len(api.outbox())
    path = f"/v1/accounts/{acme['account_id']}/partner-change-requests"
    resp = api.challenge(admin["token"], "POST", path, {"target_partner_id": "prt_other"})
    assert resp.status == 409 and first["request_id"] in resp.json()["detail"]
    assert len(api.outbox()) == sent
    cancel = f"{path}/{first['request_id']}/cancel"
    assert api.call("POST", cancel, admin["token"]).json()["status"] == "CANCELLED"
    assert request(api, admin, acme["account_id"], "prt_other").status == 201  # the marker went with it


def test_the_link_page_asks_and_only_its_post_cancels_once(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    req = request(api, admin, acme["account_id"]).json()
    world.pump.pump()
    links = cancel_links(api)
    member = acme["users"][1]["email"]
    page = f"/v1/partner-change/cancel/{links[member]}"
    for _ in range(2):  # a mail scanner fetching the link changes nothing
        got = api.call("GET", page)
        assert got.status == 200 and '<form method="post">' in got.body.decode()
        assert "Cancel this Partner change" in got.body.decode()
    assert requests(api, admin, acme["account_id"])[0]["status"] == "COOLING_OFF"
    done = api.call("POST", page, ip="198.51.100.9")
    assert done.status == 200 and "The Partner change is cancelled" in done.body.decode()
    (listed,) = requests(api, admin, acme["account_id"])
    assert listed["status"] == "CANCELLED" and listed["ended_at"] == "2026-11-24T12:00:00Z"
    assert listed["timeline"][-1] == {
        "at": "2026-11-24T12:00:00Z",
        "event": "cancelled",
        "by": member,
        "detail": "with the cancel link of a notice",
    }
    again = api.call("POST", page)
    assert again.status == 200 and "cancelled" in again.body.decode() and "<form" not in again.body.decode()
    other = api.call("POST", f"/v1/partner-change/cancel/{links[admin['email']]}")
    assert "nothing left to cancel" in other.body.decode()
    assert api.call("GET", "/v1/partner-change/cancel/wgc_forged").status == 404
    world.pump.pump()
    told = subjects(api, "Partner change for Acme Shoes cancelled")
    assert {m["to"] for m in told} >= {u["email"] for u in acme["users"]} | {demo["partner"]["users"][0]["email"]}
    assert member in told[0]["text"] and "198.51.100.9" in told[0]["text"]  # who, from where
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    audit = [e for e in events if e["kind"] == "partner_change"]
    assert audit and req["request_id"] in audit[0]["detail"] and member in audit[0]["detail"]


def test_a_removed_users_link_still_cancels_the_request_they_were_told_of(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    """Issue 20.11: removing a member must not take away their one way to stop the request (an
    admin who wants the WABA moved could otherwise silence them first). Cancelling only protects."""
    request(api, admin, acme["account_id"])
    world.pump.pump()
    member = acme["users"][1]
    token = cancel_links(api)[member["email"]]
    assert api.approved(admin, "DELETE", f"/v1/accounts/{acme['account_id']}/users/{member['user_id']}").status == 204
    assert requests(api, admin, acme["account_id"])[0]["status"] == "COOLING_OFF"
    page = api.call("GET", f"/v1/partner-change/cancel/{token}")
    assert page.status == 200 and "Cancel this Partner change" in page.body.decode()
    assert api.call("POST", f"/v1/partner-change/cancel/{token}").status == 200
    (listed,) = requests(api, admin, acme["account_id"])
    assert listed["status"] == "CANCELLED" and listed["timeline"][-1]["by"] == member["email"]


def test_who_may_cancel_with_the_route(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    req = request(api, admin, acme["account_id"]).json()
    path = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}/cancel"
    assert api.call("POST", path, acme["users"][1]["token"]).status == 403  # a member: use the link
    assert api.call("POST", path, demo["accounts"][1]["users"][0]["token"]).status == 404  # another tenant
    resp = api.call("POST", path, demo["partner"]["users"][0]["token"])  # the current Partner's admin
    assert resp.status == 200 and resp.json()["status"] == "CANCELLED"
    assert resp.json()["timeline"][-1]["by"] == demo["partner"]["users"][0]["email"]
    again = api.call("POST", path, admin["token"])
    assert again.status == 409 and "CANCELLED" in again.json()["detail"]
    missing = f"/v1/accounts/{acme['account_id']}/partner-change-requests/pcr_nope/cancel"
    assert api.call("POST", missing, admin["token"]).status == 404


# ------------------------------------------------------------------ the scheduled submission
def test_submitted_after_the_cooling_off_and_never_before(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    req = request(api, admin, acme["account_id"]).json()
    assert run(world, moving, 23 * HOURS)["submitted"] == 0
    assert requests(api, admin, acme["account_id"])[0]["status"] == "COOLING_OFF"
    assert run(world, moving, 2 * HOURS)["submitted"] == 1
    (listed,) = requests(api, admin, acme["account_id"])
    assert listed["status"] == "SUBMITTED" and [e["event"] for e in listed["timeline"]] == ["requested", "submitted"]
    assert run(world, moving, HOURS)["submitted"] == 0  # once
    told = subjects(api, "Partner change for Acme Shoes submitted")
    assert {m["to"] for m in told} == {u["email"] for u in acme["users"]} | {demo["partner"]["users"][0]["email"]}
    path = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}/cancel"
    assert api.call("POST", path, admin["token"]).status == 409  # too late


def test_an_account_under_review_keeps_it_waiting(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.people.access import load_account
    from wabaguard.risk import flags

    request(api, admin, acme["account_id"])
    flag = flags.raise_flag(load_account(acme["account_id"]), "reported_by_user", "high", "test", [])
    assert flag is not None
    for _ in range(2):
        assert run(world, moving, 25 * HOURS)["submitted"] == 0
    (listed,) = requests(api, admin, acme["account_id"])
    assert listed["status"] == "COOLING_OFF" and [e["event"] for e in listed["timeline"]] == ["requested", "held"]
    flags.resolve(flag.flag_id, "false_positive", "checked", "ops@test")
    assert run(world, moving, timedelta(minutes=6))["submitted"] == 1


# ------------------------------------------------------------------ a second admin's approval
def test_with_two_admins_another_admin_must_approve(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    other = second_admin(api, admin, acme)
    req = request(api, admin, acme["account_id"]).json()
    assert req["needs_approval"] is True
    approve = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}/approve"
    own = api.challenge(admin["token"], "POST", approve)
    assert own.status == 403 and "cannot approve their own" in own.json()["detail"]
    member = acme["users"][1]
    assert api.challenge(member["token"], "POST", approve).status == 403
    assert run(world, moving, 25 * HOURS)["submitted"] == 0  # cooled off, not approved: waits
    resp = api.approved(other, "POST", approve)
    assert resp.status == 200, resp.json()
    assert resp.json()["approved_by"] == "second@acme.test"
    assert api.challenge(other["token"], "POST", approve).status == 409  # approved already
    assert run(world, moving, timedelta(minutes=1))["submitted"] == 1
    (listed,) = requests(api, admin, acme["account_id"])
    assert [e["event"] for e in listed["timeline"]] == ["requested", "approved", "submitted"]
    assert [e["by"] for e in listed["timeline"]][:2] == [admin["email"], "second@acme.test"]
    assert subjects(api, "approved by a second admin")


def test_an_unapproved_request_expires_and_is_never_submitted(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    second_admin(api, admin, acme)
    request(api, admin, acme["account_id"])
    assert run(world, moving, 24 * HOURS + 6 * 24 * HOURS)["expired"] == 0
    out = run(world, moving, 25 * HOURS)
    assert out["expired"] == 1 and out["submitted"] == 0
    (listed,) = requests(api, admin, acme["account_id"])
    assert listed["status"] == "EXPIRED"
    assert run(world, moving, 30 * 24 * HOURS)["submitted"] == 0
    assert subjects(api, "Partner change for Acme Shoes expired")
    assert request(api, admin, acme["account_id"]).status == 201  # a new one may start


# ------------------------------------------------------------------ races
@pytest.mark.parametrize("attempt", range(3))
def test_cancel_and_submit_at_once_end_one_way(
    api: Api,
    world: World,
    acme: dict[str, Any],
    admin: dict[str, Any],
    moving: dict[str, Any],
    attempt: int,
) -> None:
    from wabaguard import partner_change
    from wabaguard.models import ActivityRecord

    req = request(api, admin, acme["account_id"]).json()
    moving["now"] += 25 * HOURS
    path = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}/cancel"
    barrier = threading.Barrier(4)
    answers: list[int] = []
    submitted: list[int] = []

    def cancel() -> None:
        barrier.wait()
        answers.append(api.call("POST", path, admin["token"]).status)

    def submit() -> None:
        barrier.wait()
        submitted.append(partner_change.run_due().submitted)

    threads = [threading.Thread(target=f) for f in (cancel, submit, submit, cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (listed,) = requests(api, admin, acme["account_id"])
    if listed["status"] == "SUBMITTED":
        assert sum(submitted) == 1 and answers == [409, 409]
    else:
        assert listed["status"] == "CANCELLED" and sum(submitted) == 0 and sorted(answers) == [200, 409]
    endings = [e for e in listed["timeline"] if e["event"] in ("cancelled", "submitted")]
    assert len(endings) == 1
    audit = [r for r in ActivityRecord.scan() if r.kind == "partner_change"]
    assert len(audit) == 1


def test_approve_and_cancel_at_once_never_leave_an_approved_cancelled_request_submitted(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    other = second_admin(api, admin, acme)
    req = request(api, admin, acme["account_id"]).json()
    base = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}"
    ch = api.challenge(other["token"], "POST", f"{base}/approve")
    code = api.last_code(other["email"])
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def approve() -> None:
        barrier.wait()
        answers["approve"] = api.call(
            "POST", f"{base}/approve", other["token"], otp=(ch.json()["challenge_id"], code)
        ).status

    def cancel() -> None:
        barrier.wait()
        answers["cancel"] = api.call("POST", f"{base}/cancel", admin["token"]).status

    threads = [threading.Thread(target=approve), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["cancel"] == 200  # cancelling is always possible while it waits
    assert answers["approve"] in (200, 409)
    assert run(world, moving, 25 * HOURS)["submitted"] == 0
    assert requests(api, admin, acme["account_id"])[0]["status"] == "CANCELLED"


def test_approving_what_needs_no_approval_or_under_review_is_refused_before_a_code(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    from wabaguard.people.access import load_account
    from wabaguard.risk import flags

    req = request(api, admin, acme["account_id"]).json()  # one admin: no approval needed
    approve = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}/approve"
    sent = len(api.outbox())
    resp = api.challenge(admin["token"], "POST", approve)
    assert resp.status == 409 and "needs no approval" in resp.json()["detail"]
    flags.raise_flag(load_account(acme["account_id"]), "reported_by_user", "high", "test", [])
    assert api.challenge(admin["token"], "POST", approve).status == 423  # paused like every key action
    cancel = f"/v1/accounts/{acme['account_id']}/partner-change-requests/{req['request_id']}/cancel"
    assert api.call("POST", cancel, admin["token"]).status == 200  # cancelling protects: open under review
    assert len([m for m in api.outbox()[sent:] if "code is" in m["text"]]) == 0


# ------------------------------------------------------------------ end to end (issue 22)
def test_the_target_must_be_a_partner_wabaguard_knows_refused_before_a_code(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    path = f"/v1/accounts/{acme['account_id']}/partner-change-requests"
    sent = len(api.outbox())
    for target in ("prt_unheard_of", demo["accounts"][1]["account_id"]):  # unknown; a Client, not a Partner
        resp = api.challenge(admin["token"], "POST", path, {"target_partner_id": target})
        assert resp.status == 404 and resp.json()["error"] == "unknown_partner", resp.json()
        assert target in resp.json()["detail"]
    current = api.challenge(admin["token"], "POST", path, {"target_partner_id": demo["partner"]["partner_id"]})
    assert current.status == 400 and current.json()["field"] == "body.target_partner_id"
    assert len(api.outbox()) == sent, "no code was sent for a request that cannot be made"


def test_submitting_emits_the_eventbridge_event_and_notices_name_partners(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    req = request(api, admin, acme["account_id"], "prt_next").json()
    world.pump.pump()
    (mail,) = [m for m in subjects(api, "Partner change requested") if m["to"] == admin["email"]]
    assert "Next Partners" in mail["text"] and "Northwind Partners" in mail["text"]
    assert "prt_next" not in mail["text"], "people read Partner names, not ids"
    assert "Wed 25 Nov 2026, 12:00 UTC" in mail["text"], "times for people, with their zone"
    assert world.eventbus.events() == [], "nothing before the cooling-off ends"
    out = run(world, moving, 25 * HOURS)
    assert out["submitted"] == 1 and out["announced"] == 1
    (event,) = world.eventbus.events()
    assert event["source"] == "wabaguard" and event["detail-type"] == "Partner change submitted"
    detail = event["detail"]
    assert detail["request_id"] == req["request_id"] and detail["waba_id"] == acme["waba_id"]
    assert detail["account"] == {"account_id": acme["account_id"], "name": "Acme Shoes"}
    assert detail["from_partner"] == {"partner_id": demo["partner"]["partner_id"], "name": "Northwind Partners"}
    assert detail["to_partner"]["partner_id"] == "prt_next" and detail["to_partner"]["name"] == "Next Partners"
    assert detail["approvals"] == [] and detail["requested_by"] == admin["email"]
    run(world, moving, HOURS)
    assert len(world.eventbus.events()) == 1, "announced once"
    told = [m for m in subjects(api, "Partner change for Acme Shoes submitted") if m["to"] == admin["email"]]
    assert "moves the WhatsApp Business Account to Next Partners" in told[0]["text"]


def test_an_event_eventbridge_refused_is_sent_by_a_later_run(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any], monkeypatch: Any
) -> None:
    from botocore.exceptions import ClientError
    from wabaguard import partner_change

    real = partner_change.client

    class Refusing:
        def put_events(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")

    request(api, admin, acme["account_id"], "prt_next")
    monkeypatch.setattr(partner_change, "client", lambda service: Refusing())
    out = run(world, moving, 25 * HOURS)
    assert out["submitted"] == 1 and out["announced"] == 0 and out["announce_failed"] == 1
    assert world.eventbus.events() == []
    monkeypatch.setattr(partner_change, "client", real)
    assert run(world, moving, timedelta(seconds=30))["announced"] == 0, "the failed attempt's lease holds it"
    assert run(world, moving, timedelta(minutes=2))["announced"] == 1
    assert len(world.eventbus.events()) == 1
