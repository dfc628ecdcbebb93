"""Where features meet (issue 20): the security review's findings and the newcomer's breakages,
one test (or a few) per item, each failing on the main before the fix."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from devstack.server import World
from tests.integration.conftest import Api
from tests.integration.test_onboarding import CLIENT

PCR = "/v1/accounts/{}/partner-change-requests"


def notices_to(api: Api, to: str, words: str) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if m["to"] == to and words in m["subject"]]


# ------------------------------------------------------------------ many threads, one moto
def test_dynamodb_calls_from_many_threads_are_each_atomic(world: World) -> None:
    """The local stack calls moto from many threads at once. A transaction deep-copies the tables it
    touches; a put from another thread during the copy made moto raise "dictionary changed size
    during iteration" (CI: the WABA watch's snapshot transaction beside an asynchronous invoke),
    and a conditional put could lose to another between its check and its write."""
    import threading

    import boto3

    table = world.stack.environment()["ACCOUNTS_TABLE"]
    client = boto3.client("dynamodb", region_name=world.stack.region)
    for i in range(200):
        client.put_item(TableName=table, Item={"pk": {"S": f"RACE#{i}"}, "sk": {"S": "SEED"}})
    errors: list[Exception] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                client.put_item(TableName=table, Item={"pk": {"S": f"RACE#w{n}-{i}"}, "sk": {"S": "W"}})
            except Exception as e:
                errors.append(e)
            i += 1

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in writers:
        t.start()
    try:
        for i in range(20):
            try:
                item = {"pk": {"S": f"RACE#t{i}"}, "sk": {"S": "T"}}
                client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}])
            except Exception as e:
                errors.append(e)
    finally:
        stop.set()
        for t in writers:
            t.join()
    assert errors == []

    won: list[int] = []

    def claim(n: int) -> None:
        try:
            client.put_item(TableName=table, Item={"pk": {"S": "RACE#claim"}, "sk": {"S": "C"}, "by": {"N": str(n)}},
                            ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
            won.append(n)
        except client.exceptions.ConditionalCheckFailedException:
            pass

    claimers = [threading.Thread(target=claim, args=(n,)) for n in range(20)]
    for t in claimers:
        t.start()
    for t in claimers:
        t.join()
    assert len(won) == 1


# ------------------------------------------------------------------ 13: one poison record
def test_a_failed_onboarding_writes_nothing_and_later_changes_are_still_notified(
    api: Api, world: World, demo: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    """The newcomer's sequence: onboard, onboard the same WABA again (409), then a change — its
    notices arrive. moto's rollback of a failed transaction used to orphan the stream's shard."""
    assert api.call("POST", "/v1/ops/accounts", world.ops_token, CLIENT).status == 201
    world.pump.pump()
    again = api.call("POST", "/v1/ops/accounts", world.ops_token, {**CLIENT, "name": "Copy"})
    assert again.status == 409
    world.pump.pump()
    assert world.pump.dead_lettered == 0
    resp = api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Still told"})
    assert resp.status == 200
    world.pump.pump()
    assert notices_to(api, admin["email"], "profile"), [m["subject"] for m in api.outbox()]
    from wabaguard.models import Account

    names = [a.name for a in Account.scan() if isinstance(a, Account)]
    assert "Copy" not in names  # nothing of the failed onboarding was written


def test_a_stream_record_about_something_gone_is_skipped_and_counted(
    api: Api, world: World, demo: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    """A record naming an account that no longer exists is skipped (never retried forever), and
    the changes after it are notified."""
    from wabaguard.models import Account, PhoneNumber, system_change
    from wabaguard.security import new_id

    from devstack.seed import create_account

    ghost = create_account("Ghost")
    phone = PhoneNumber(
        *PhoneNumber.key(new_id("pn")),
        phone_number_id="pn_ghost",
        account_id=ghost.account_id,
        display="+1 555 0000",
        profile={},
    )
    phone.save()
    Account(*Account.key(ghost.account_id)).delete()
    phone.update(actions=[PhoneNumber.last_change.set(system_change("profile_updated", _now(), "test"))])
    assert api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "After"}).status == 200
    world.pump.pump()
    assert world.pump.dead_lettered == 0
    assert notices_to(api, admin["email"], "profile")
    skipped = [e for name, e in world.pump.deliveries if name == "ChangeNotifierFunction"]
    assert skipped  # delivered, not retried: the skip is counted in the notifier's metrics


def _now() -> Any:
    from wabaguard import clock

    return clock.utcnow()


__all__ = ["PCR", "re", "timedelta"]


# ------------------------------------------------------------------ 1: only admins move a WABA
def _partner_member(demo: dict[str, Any]) -> dict[str, Any]:
    from wabaguard.people.access import load_account

    from devstack.seed import create_user

    return create_user(load_account(demo["partner"]["partner_id"]), "member@northwind.test", "member")


def test_only_admins_of_the_account_or_its_partner_may_request_a_partner_change(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    """Every role: account admin and member, Partner admin and member, API key, another tenant."""
    path = PCR.format(acme["account_id"])
    body = {"target_partner_id": "prt_next"}
    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "k"}).json()["api_key"]
    refused = {
        "account member": (acme["users"][1]["token"], 403),
        "Partner member": (_partner_member(demo)["token"], 403),
        "API key": (key, 403),
        "another tenant": (demo["accounts"][1]["users"][0]["token"], 404),
    }
    sent = len(api.outbox())
    for who, (token, status) in refused.items():
        resp = api.challenge(token, "POST", path, body)
        assert resp.status == status, (who, resp.json())
    assert len(api.outbox()) == sent  # refused before a code is sent
    for requester in (admin, demo["partner"]["users"][0]):  # account admin, then Partner admin
        made = api.approved(requester, "POST", path, body)
        assert made.status == 201, made.json()
        own = f"{path}/{made.json()['request_id']}/cancel"  # the requester may cancel their own
        assert api.call("POST", own, requester["token"]).json()["status"] == "CANCELLED"


# ------------------------------------------------------------------ 2 and 11: no puppet approvals
def _add_admin(api: Api, by: dict[str, Any], account_id: str, email: str) -> dict[str, Any]:
    resp = api.approved(by, "POST", f"/v1/accounts/{account_id}/users", {"email": email, "role": "admin"})
    assert resp.status == 201, resp.json()
    return {**resp.json(), "email": email, "token": api.accept_invite(email)}


def test_an_admin_added_after_the_request_cannot_approve_it(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    acc = acme["account_id"]
    second = _add_admin(api, admin, acc, "second@acme.test")
    partner_admin = demo["partner"]["users"][0]
    req = api.approved(partner_admin, "POST", PCR.format(acc), {"target_partner_id": "prt_next"}).json()
    assert req["needs_approval"] is True
    approve = f"{PCR.format(acc)}/{req['request_id']}/approve"
    for adder, email in ((partner_admin, "puppet@acme.test"), (second, "puppet2@acme.test")):
        puppet = _add_admin(api, adder, acc, email)  # by a Partner admin acting alone, or by anyone
        resp = api.challenge(puppet["token"], "POST", approve)
        assert resp.status == 403 and "already was an admin" in resp.json()["detail"], resp.json()
    assert api.approved(second, "POST", approve).status == 200  # an admin from before the request


def test_removing_the_requester_cancels_their_request(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    acc = acme["account_id"]
    second = _add_admin(api, admin, acc, "second@acme.test")
    req = api.approved(second, "POST", PCR.format(acc), {"target_partner_id": "prt_next"}).json()
    assert api.approved(admin, "DELETE", f"/v1/accounts/{acc}/users/{second['user_id']}").status == 204
    (listed,) = api.call("GET", PCR.format(acc), admin["token"]).json()["requests"]
    assert listed["request_id"] == req["request_id"] and listed["status"] == "CANCELLED"
    assert listed["timeline"][-1]["by"] == admin["email"]
    assert "second@acme.test was removed" in listed["timeline"][-1]["detail"]
    world.pump.pump()
    assert notices_to(api, admin["email"], "cancelled")
    again = api.approved(admin, "POST", PCR.format(acc), {"target_partner_id": "prt_next"})
    assert again.status == 201  # the open marker went with it


# ------------------------------------------------------------------ 9: no links in a reason
def test_a_reason_is_quoted_without_links_in_every_email(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    body = {"target_partner_id": "prt_next", "reason": "Verify at https://evil.example/login or www.evil.example"}
    assert api.approved(admin, "POST", PCR.format(acme["account_id"]), body).status == 201
    world.pump.pump()
    mails = [m for m in api.outbox() if "Partner change" in m["subject"] or "approve" in m["subject"]]
    assert len(mails) >= 3
    for mail in mails:
        assert "evil.example" not in mail["text"] and "evil.example" not in mail["html"], mail["subject"]
    notice = next(m for m in mails if "Partner change requested" in m["subject"])
    assert '"Verify at [link removed] or [link removed]"' in notice["text"]


# ------------------------------------------------------------------ 14: a lost rotation answer
def test_a_lost_rotation_answer_is_given_again_to_the_old_token_within_ten_minutes(
    api: Api, world: World, admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    ch = api.challenge(admin["token"], "POST", "/v1/me/tokens")
    assert ch.status == 201
    approval = (ch.json()["challenge_id"], api.last_code(admin["email"]))
    first = api.call("POST", "/v1/me/tokens", admin["token"], otp=approval)
    assert first.status == 201 and "Idempotent-Replayed" not in first.headers
    new_token = first.json()["token"]
    moving["now"] += timedelta(minutes=9)  # the client timed out and retries, with the old token
    again = api.call("POST", "/v1/me/tokens", admin["token"], otp=approval)
    assert again.status == 201 and again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert api.call("GET", "/v1/me", new_token).status == 200
    assert api.call("GET", "/v1/me", admin["token"]).status == 401  # the old token does nothing else
    other = api.challenge(admin["token"], "PATCH", "/v1/phone-numbers/pn_x/profile", {"about": "x"})
    assert other.status == 401
    moving["now"] += timedelta(minutes=2)  # past 10 minutes: gone
    assert api.call("POST", "/v1/me/tokens", admin["token"], otp=approval).status == 401


def test_the_old_token_cannot_replay_a_rotation_with_another_challenge_or_code(
    api: Api, world: World, admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    ch = api.challenge(admin["token"], "POST", "/v1/me/tokens")
    challenge_id, code = ch.json()["challenge_id"], api.last_code(admin["email"])
    assert api.call("POST", "/v1/me/tokens", admin["token"], otp=(challenge_id, code)).status == 201
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    resp = api.call("POST", "/v1/me/tokens", admin["token"], otp=(challenge_id, wrong))
    assert resp.status == 403 and resp.json()["error"] == "otp_used"  # a replay alarm, no token
    assert "token" not in resp.body.decode()
    assert api.call("POST", "/v1/me/tokens", admin["token"], otp=("ch_" + "0" * 32, code)).status == 401


# ------------------------------------------------------------------ 15: a corrected body
def test_a_corrected_body_after_success_is_told_to_ask_again_and_raises_no_alarm(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], pn: str, moving: dict[str, Any]
) -> None:
    from wabaguard.people.access import load_account

    from tests.integration.test_risk import scan

    path = f"/v1/phone-numbers/{pn}/profile"
    ch = api.challenge(admin["token"], "PATCH", path, {"about": "Shoes for evryone"})
    approval = (ch.json()["challenge_id"], api.last_code(admin["email"]))
    assert api.call("PATCH", path, admin["token"], {"about": "Shoes for evryone"}, otp=approval).status == 200
    fixed = api.call("PATCH", path, admin["token"], {"about": "Shoes for everyone"}, otp=approval)
    assert fixed.status == 403 and fixed.json()["error"] == "otp_used"
    assert "new challenge" in fixed.json()["detail"]
    assert not [m for m in api.outbox() if "used twice" in m["subject"]]
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    kinds = [e["kind"] for e in events]
    assert "otp_reused" in kinds and "otp_replayed" not in kinds
    assert scan(moving)["flags"] == []
    assert not load_account(acme["account_id"]).under_review
    elsewhere = api.call("PATCH", path, admin["token"], {"about": "x"}, otp=approval, ip="198.51.100.66")
    assert elsewhere.status == 403  # from elsewhere it stays a replay alarm
    assert [m for m in api.outbox() if "used twice" in m["subject"]]


# ------------------------------------------------------------------ 16: telling two challenges apart
def test_two_live_challenges_carry_their_own_reference_in_the_email_and_the_answer(
    api: Api, world: World, admin: dict[str, Any], pn: str
) -> None:
    path = f"/v1/phone-numbers/{pn}/profile"
    refs = []
    for about in ("one", "two"):
        ch = api.challenge(admin["token"], "PATCH", path, {"about": about}).json()
        mail = api.outbox()[-1]
        ref = ch["reference"]
        assert re.fullmatch(r"[0-9A-F]{3}-[0-9A-F]{3}", ref)
        assert mail["subject"].startswith(f"[{ref}]") and f"Reference: {ref}" in mail["text"]
        refs.append(ref)
    assert refs[0] != refs[1]
