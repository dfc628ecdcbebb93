"""§Notifications: per change type, recipients, exactly once despite redelivery and SES faults."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from wabaguard.batches import BatchFailed

from devstack.server import World
from tests.integration.conftest import Api


def notices(api: Api) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if m["subject"].startswith("[wabaguard]")]


def deliver(world: World) -> None:
    world.pump.pump()


def acme_emails(acme: dict[str, Any]) -> set[str]:
    return {u["email"] for u in acme["users"]}


def test_webhook_change_emails_each_acme_user_once_naming_hosts_and_actor(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], demo: dict[str, Any], pn: str
) -> None:
    assert (
        api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://evil.example.org/x"}).status
        == 200
    )
    deliver(world)
    mails = notices(api)
    assert sorted(m["to"] for m in mails) == sorted(acme_emails(acme))
    globex = {u["email"] for u in demo["accounts"][1]["users"]} | {demo["partner"]["users"][0]["email"]}
    assert not [m for m in mails if m["to"] in globex]
    mail = mails[0]
    assert mail["subject"] == "[wabaguard] Webhook URL of +49 30 1234567 changed to host evil.example.org"
    text = mail["text"]
    assert "Webhook URL: https://hooks.acme.test/wa → https://evil.example.org/x" in text
    assert ">> Webhook host: hooks.acme.test → evil.example.org (NEW HOST)" in text
    assert f"Changed by: {admin['email']}" in text and "IP address: 203.0.113.7" in text
    assert "User agent: pytest/agent" in text
    assert "revoke API keys nobody recognises" in text and "support@wabaguard.example" in text
    person, _, integrators = text.partition("For integrators:")
    assert not re.search(r"(GET|POST|PUT|PATCH|DELETE) /v1/", person), "API hints apart from what a person reads"
    assert "POST /v1/me/tokens" in integrators
    assert "background:#fff3b0;padding:0 2px\">hooks.acme.test → evil.example.org (NEW HOST)</strong>" in mail["html"]
    deliver(world)  # nothing new arrives later
    assert len(notices(api)) == len(acme["users"])


def test_profile_change_lists_each_field_old_to_new(api: Api, world: World, admin: dict[str, Any], pn: str) -> None:
    api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Now with socks", "vertical": "RETAIL"})
    deliver(world)
    text = notices(api)[0]["text"]
    assert notices(api)[0]["subject"] == "[wabaguard] Business profile of +49 30 1234567 changed"
    assert "Profile about: Shoes for everyone → Now with socks" in text
    assert "Profile vertical: (empty) → RETAIL" in text
    assert "Profile websites" not in text  # unchanged fields are not listed


def test_hostile_profile_text_is_escaped_in_html(api: Api, world: World, admin: dict[str, Any], pn: str) -> None:
    hostile = '<script>alert(1)</script><a href="https://phish.example">x</a>'
    api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"description": hostile})
    deliver(world)
    mail = notices(api)[0]
    assert "<script>" not in mail["html"] and '<a href="https://phish.example">' not in mail["html"]
    assert re.findall(r"<a href=", mail["html"]) == ["<a href="], "only our own report link is an anchor"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail["html"]
    assert hostile in mail["text"]  # plain text shows it as text


def test_api_key_notices_show_name_and_prefix_never_the_key(
    api: Api, world: World, admin: dict[str, Any], pn: str
) -> None:
    created = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "crm"}).json()
    api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{created['key_id']}", admin["token"])
    deliver(world)
    subjects = sorted({m["subject"] for m in notices(api)})
    assert subjects == [
        f"[wabaguard] API key {created['prefix']}… created for +49 30 1234567",
        f"[wabaguard] API key {created['prefix']}… revoked for +49 30 1234567",
    ]
    dump = json.dumps(notices(api))
    assert created["api_key"] not in dump
    assert f"API key: crm · prefix {created['prefix']}" in notices(api)[0]["text"]


def test_revocation_by_an_api_key_is_attributed_to_the_key(
    api: Api, world: World, admin: dict[str, Any], pn: str
) -> None:
    created = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "self"}).json()
    deliver(world)
    before = len(notices(api))
    assert api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{created['key_id']}", created["api_key"]).status == 204
    deliver(world)
    revoked = notices(api)[before:]
    assert revoked and all(f"Changed by: API key {created['prefix']}" in m["text"] for m in revoked)


@pytest.mark.parametrize("kind", ["template", "user_added", "user_removed", "totp"])
def test_other_change_types(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], demo: dict[str, Any], kind: str
) -> None:
    account = acme["account_id"]
    partner_admin = demo["partner"]["users"][0]["email"]
    if kind == "template":
        api.approved(
            admin,
            "POST",
            f"/v1/accounts/{account}/templates",
            {
                "name": "promo",
                "language": "en",
                "category": "MARKETING",
                "components": [{"type": "BODY", "text": "20% off"}],
            },
        )
        expected = "[wabaguard] Message template promo created for Acme Shoes"
    elif kind == "user_added":
        api.approved(admin, "POST", f"/v1/accounts/{account}/users", {"email": "eve@acme.test", "role": "admin"})
        expected = "[wabaguard] User eve@acme.test added to Acme Shoes"
    elif kind == "user_removed":
        member = acme["users"][1]
        api.approved(admin, "DELETE", f"/v1/accounts/{account}/users/{member['user_id']}")
        expected = "[wabaguard] User member@acme.test removed from Acme Shoes"
    else:
        import pyotp

        uri = api.approved(admin, "POST", "/v1/me/totp").json()["otpauth_uri"]
        api.call("POST", "/v1/me/totp/confirm", admin["token"], {"code": pyotp.parse_uri(uri).now()})
        expected = f"[wabaguard] New authenticator app for {admin['email']}"
    deliver(world)
    mails = [m for m in notices(api) if m["subject"] == expected]
    recipients = sorted(m["to"] for m in mails)
    if kind == "user_added":  # the managing Partner's admins hear of their Clients' people; eve, her invite
        assert recipients == sorted(acme_emails(acme) | {partner_admin})
        (invite,) = [m for m in api.outbox() if m["to"] == "eve@acme.test"]
        assert invite["subject"] == "[wabaguard] You were added to Acme Shoes" and "/v1/invite/wgi_" in invite["text"]
    elif kind == "user_removed":  # the removed user is told too (it may be the owner, locked out)
        assert recipients == sorted([admin["email"], acme["users"][1]["email"], partner_admin])
    else:
        assert recipients == sorted(acme_emails(acme))
    if kind == "totp":
        seed = pyotp.parse_uri(uri).secret
        assert seed not in json.dumps(api.outbox())


def test_partner_change_also_tells_the_managing_partners_admins(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], demo: dict[str, Any]
) -> None:
    api.approved(
        admin,
        "POST",
        f"/v1/accounts/{acme['account_id']}/partner-change-requests",
        {"target_partner_id": "prt_other", "reason": "<b>cheaper</b>"},
    )
    deliver(world)
    mails = [m for m in notices(api) if "Partner change" in m["subject"]]
    partner_admin = demo["partner"]["users"][0]["email"]
    assert sorted(m["to"] for m in mails) == sorted(acme_emails(acme) | {partner_admin})
    assert "Requested Partner: Other Partners" in mails[0]["text"] and "&lt;b&gt;cheaper" in mails[0]["html"]
    assert len({m["to"] for m in mails}) == len(mails)  # one message per recipient


def test_lockout_is_told_to_every_user(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard import clock

    now = {"t": clock.now()}
    monkeypatch.setattr(clock, "now", lambda: now["t"])
    path = f"/v1/phone-numbers/{pn}/webhook"
    for _ in range(2):
        ch = api.challenge(admin["token"], "PUT", path, {"url": "https://a.example.com/"}).json()["challenge_id"]
        code = api.last_code(admin["email"])
        for _ in range(5):
            api.call(
                "PUT",
                path,
                admin["token"],
                {"url": "https://a.example.com/"},
                otp=(ch, f"{(int(code) + 1) % 10**6:06d}"),
            )
    deliver(world)
    mails = [m for m in notices(api) if "OTP lockout" in m["subject"]]
    assert sorted(m["to"] for m in mails) == sorted(acme_emails(acme))


def test_the_same_batch_delivered_twice_sends_once(api: Api, world: World, admin: dict[str, Any], pn: str) -> None:
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://b.example.com/"})
    deliver(world)
    first = len(notices(api))
    event = world.pump.delivered_to("ChangeNotifierFunction")[-1]
    result = world.functions.invoke("ChangeNotifierFunction", event)
    assert result == {"batchItemFailures": []}
    assert len(notices(api)) == first


def test_ses_failing_then_recovering_sends_every_email_exactly_once(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.notices import mailer

    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://c.example.com/"})
    real_send = mailer.send
    calls = {"n": 0}

    def flaky(mail: mailer.Email, about: Any = None) -> str:
        calls["n"] += 1
        if mail.subject.startswith("[wabaguard]") and calls["n"] in (2, 3, 4):  # the 2nd recipient, three times
            raise mailer.MailError("Throttling")
        return real_send(mail, about)

    monkeypatch.setattr(mailer, "send", flaky)
    deliver(world)
    assert len(world.pump.delivered_to("ChangeNotifierFunction")) >= 2  # reported failed, delivered again
    assert sorted(m["to"] for m in notices(api)) == sorted(acme_emails(acme))


def test_a_poison_record_does_not_block_the_others_and_ends_in_the_queue(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from wabaguard.models import ChangeRecord, PhoneNumber
    from wabaguard.notices import notify

    # A change the notifier fails on every time (a record about something gone is skipped
    # instead: see test_seams): it must not hold up the others, and ends in the queue.
    real_describe = notify.describe

    def describe(old: Any, new: Any, account: Any) -> Any:
        if getattr(getattr(new, "last_change", None), "change_id", None) == "chg_poison":
            raise RuntimeError("cannot describe this change")
        return real_describe(old, new, account)

    monkeypatch.setattr(notify, "describe", describe)
    PhoneNumber(
        *PhoneNumber.key("pn_orphan"),
        phone_number_id="pn_orphan",
        account_id=acme["account_id"],
        display="+1",
        last_change=ChangeRecord(change_id="chg_poison", kind="webhook_url_set", at="2026-11-26T00:00:00Z"),
    ).save()
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://d.example.com/"})
    deliver(world)
    assert sorted(m["to"] for m in notices(api)) == sorted(acme_emails(acme))
    sqs = boto3.client("sqs", region_name="us-east-1")
    queued = sqs.receive_message(QueueUrl=world.stack.physical["NotifierFailureQueue"], MaxNumberOfMessages=10)
    assert len(queued["Messages"]) == 1
    assert json.loads(queued["Messages"][0]["Body"])["DDBStreamBatchInfo"]["batchSize"] >= 1


def test_replaying_the_queue_sends_only_what_is_missing(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.notices import mailer

    from tools.replay_dlq import replay

    real_send = mailer.send
    down = {"on": True}

    def ses(mail: mailer.Email, about: Any = None) -> str:
        if down["on"] and mail.to == acme["users"][1]["email"] and mail.subject.startswith("[wabaguard]"):
            raise mailer.MailError("SES down")
        return real_send(mail, about)

    monkeypatch.setattr(mailer, "send", ses)
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://e.example.com/"})
    deliver(world)
    assert [m["to"] for m in notices(api)] == [admin["email"]]
    down["on"] = False
    summary = replay(
        world.stack.physical["NotifierFailureQueue"],
        lambda event: world.functions.invoke("ChangeNotifierFunction", event),
        "us-east-1",
    )
    assert summary["messages"] == 1 and summary["replayed"] >= 1 and summary["still_failing"] == 0
    assert sorted(m["to"] for m in notices(api)) == sorted(acme_emails(acme))


def test_metrics_count_sent_failed_and_deduplicated(
    api: Api,
    world: World,
    admin: dict[str, Any],
    pn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://f.example.com/"})
    capsys.readouterr()
    deliver(world)
    world.functions.invoke("ChangeNotifierFunction", world.pump.delivered_to("ChangeNotifierFunction")[-1])
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    sent = sum(sum(m.get("NotificationsSent", [0])) for m in metrics)
    dedup = sum(sum(m.get("NotificationsDeduplicated", [0])) for m in metrics)
    assert sent == 2 and dedup == 2


def test_review_notices_say_why_in_words_what_happens_now_and_how_it_ends(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any]
) -> None:
    """Issue 11: review notices reused the change template (no action needed, Changed by the
    reporter, IP unknown, user ids) and never said how a review ends."""
    from wabaguard.people.access import load_account
    from wabaguard.risk import flags

    evidence = [
        {
            "record_id": "r1",
            "kind": "key_action",
            "at": "2026-11-24T10:00:00Z",
            "user_id": admin["user_id"],
            "action": "set_webhook_url",
            "ip": "95.173.136.70",
            "country": "RU",
        },
    ]
    flag = flags.raise_flag(
        load_account(acme["account_id"]),
        "key_action_burst",
        "high",
        f"3 key actions by {admin['user_id']} within 15 minutes",
        evidence,
    )
    assert flag is not None
    deliver(world)
    started = [m for m in notices(api) if m["subject"] == "[wabaguard] Acme Shoes is under security review"]
    assert sorted(m["to"] for m in started) == sorted(acme_emails(acme) | {"ops@northwind.test"})
    text = started[0]["text"]
    assert f"3 key actions by {admin['email']} within 15 minutes" in text and admin["user_id"] not in text
    assert f"set_webhook_url by {admin['email']} from 95.173.136.70 (RU) at 2026-11-24T10:00:00Z" in text
    assert "answer 423" in text and "How it ends" in text and "revoking API keys" in text
    assert "no action is needed" not in text and "Changed by" not in text and "IP address: unknown" not in text
    assert "<a href" not in started[0]["html"], "system notices carry no report link"
    flags.resolve(flag.flag_id, "false_positive", "the admin was travelling", "ops-user")
    deliver(world)
    ended = [m for m in notices(api) if m["subject"] == "[wabaguard] Acme Shoes released from security review"]
    assert ended and "resolved the finding as a false positive" in ended[0]["text"]
    assert "the admin was travelling" in ended[0]["text"]


def test_change_notices_link_with_a_real_anchor_and_never_to_a_missing_page(
    api: Api, world: World, admin: dict[str, Any], pn: str
) -> None:
    api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "links"})
    deliver(world)
    mail = notices(api)[0]
    anchors = re.findall(r'<a href="([^"]+)"', mail["html"])
    assert len(anchors) == 1 and "/v1/report/wgr_" in anchors[0]
    assert anchors[0] in mail["text"]
    assert "security.wabaguard.example." not in mail["text"], "no link to a page that is not served"


# ------------------------------------------------------------------ one report item per change
def _report_items() -> list[Any]:
    from wabaguard.models import ReportToken

    return [i for i in ReportToken.scan() if isinstance(i, ReportToken)]


def _report_link(mail: dict[str, Any]) -> str:
    found = re.search(r"/v1/report/(\S+)", mail["text"])
    assert found, mail["text"]
    return found.group(1)


def test_a_changes_report_links_are_one_item_each_recipient_their_own_and_reported_once(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    """The facts of a change are stored once for all its notices (issue 26: one write per change,
    not per recipient); each recipient still has a link of their own, the report names who made
    it, and the change is reported once."""
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://r.example.com/"})
    deliver(world)
    links = {m["to"]: _report_link(m) for m in notices(api)}
    assert set(links) == acme_emails(acme) and len(set(links.values())) == len(links)
    (item,) = _report_items()
    assert sorted(item.recipients.values()) == sorted(links)
    assert not any(token in json.dumps(item.attribute_values, default=str) for token in links.values())
    member = acme["users"][1]["email"]
    assert "Was this change not made by you?" in api.call("GET", f"/v1/report/{links[member]}").body.decode()
    done = api.call("POST", f"/v1/report/{links[member]}")
    assert done.status == 200 and "under review" in done.body.decode()
    (item,) = _report_items()
    assert item.reported_by == member
    flags = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()["flags"]
    assert member in flags[0]["explanation"]
    assert "Already reported" in api.call("POST", f"/v1/report/{links[admin['email']]}").body.decode()
    assert "Already reported" in api.call("GET", f"/v1/report/{links[admin['email']]}").body.decode()


def test_a_report_link_is_refused_with_a_forged_recipient_part_or_none(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    from wabaguard.notices.report import CHANGE_PART

    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://s.example.com/"})
    deliver(world)
    token = _report_link(next(m for m in notices(api) if m["to"] == admin["email"]))
    for forged in (token[:CHANGE_PART], token[:CHANGE_PART] + "A" * (len(token) - CHANGE_PART), token + "x"):
        assert api.call("GET", f"/v1/report/{forged}").status == 404
        assert api.call("POST", f"/v1/report/{forged}").status == 404
    assert _report_items()[0].used_at is None


def test_a_redelivered_record_whose_notices_went_out_writes_no_report_links(
    api: Api, world: World, admin: dict[str, Any], pn: str
) -> None:
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://t.example.com/"})
    deliver(world)
    assert len(_report_items()) == 1
    event = world.pump.delivered_to("ChangeNotifierFunction")[-1]
    assert world.functions.invoke("ChangeNotifierFunction", event) == {"batchItemFailures": []}
    assert len(_report_items()) == 1


def test_a_report_link_sent_before_links_were_shared_still_works_for_its_seven_days(
    api: Api, world: World, acme: dict[str, Any]
) -> None:
    """Links mailed before issue 26 are one item per recipient, keyed by the whole token."""
    from wabaguard import clock
    from wabaguard.models import ReportToken, report_pk
    from wabaguard.notices.report import VALID_FOR
    from wabaguard.security import new_token, token_digest

    member = acme["users"][1]["email"]
    token = new_token("wgr")
    ReportToken(
        report_pk(token_digest(token)), account_id=acme["account_id"], change_id="chg_old", headline="An old change",
        facts=[], recipient=member, ttl=clock.utcnow() + VALID_FOR,
    ).save()  # fmt: skip
    assert "An old change" in api.call("GET", f"/v1/report/{token}").body.decode()
    assert api.call("POST", f"/v1/report/{token}").status == 200
    assert ReportToken.get(report_pk(token_digest(token))).reported_by == member


# ------------------------------------------------------------------ one progress item per record
def test_two_invocations_of_one_record_at_once_send_each_notice_once(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream (or a replay beside it) can hand one record to two containers at once: the
    progress item lets one send; the other reports the record failed, and its retry finds everyone
    told."""
    import contextlib
    import threading

    from wabaguard.models import NoticeProgress
    from wabaguard.notices import mailer, progress

    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://u.example.com/"})
    deliver(world)
    event = world.pump.delivered_to("ChangeNotifierFunction")[-1]
    for item in NoticeProgress.scan():  # as if the record were new: both containers get it first
        item.delete()
    before = len(notices(api))
    real_send, real_claim = mailer.send, progress.Progress.claim
    attempts: list[bool] = []
    both_tried = threading.Event()

    def claim(self: progress.Progress) -> None:
        try:
            real_claim(self)
        finally:
            attempts.append(True)
            if len(attempts) == 2:
                both_tried.set()

    def held(mail: mailer.Email, about: Any = None) -> str:
        assert both_tried.wait(10)  # the sender is inside the record when the other container comes
        return real_send(mail, about)

    monkeypatch.setattr(progress.Progress, "claim", claim)
    monkeypatch.setattr(mailer, "send", held)
    monkeypatch.setitem(world.functions._locks, "ChangeNotifierFunction", contextlib.nullcontext())  # two containers
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def container() -> None:
        barrier.wait()
        try:
            results.append(world.functions.invoke("ChangeNotifierFunction", event))
        except BatchFailed:  # every record of the batch failed: Lambda retries the batch
            results.append("failed")

    threads = [threading.Thread(target=container) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["to"] for m in notices(api)[before:]) == sorted(acme_emails(acme))  # each once
    assert sorted(map(str, results)) == ["failed", str({"batchItemFailures": []})]  # one found it claimed
    assert world.functions.invoke("ChangeNotifierFunction", event) == {"batchItemFailures": []}  # the retry
    assert len(notices(api)) == before + len(acme_emails(acme))


def test_a_record_claimed_by_an_invocation_that_died_waits_for_its_claim_then_sends_the_rest(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, moving: dict[str, Any]
) -> None:
    from datetime import timedelta

    from wabaguard.models import NoticeProgress
    from wabaguard.notices import progress

    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://v.example.com/"})
    deliver(world)
    event = world.pump.delivered_to("ChangeNotifierFunction")[-1]
    record_id = event["Records"][0]["eventID"]
    before = len(notices(api))
    (item,) = [i for i in NoticeProgress.scan() if i.id == f"notices#{record_id}"]
    assert item.claimed_until is None and len(item.told) == len(acme_emails(acme))  # let go by the last notice
    # a dead invocation: it told the admin, then was killed holding the record for 5 minutes
    member = acme["users"][1]["email"]
    item.update(actions=[NoticeProgress.told.set({progress._digest(admin["email"])}),
                         NoticeProgress.claimed_until.set(moving["now"].timestamp() + 300)])  # fmt: skip
    with pytest.raises(BatchFailed):  # busy: the batch is retried later
        world.functions.invoke("ChangeNotifierFunction", event)
    assert len(notices(api)) == before
    moving["now"] += timedelta(minutes=6)
    assert world.functions.invoke("ChangeNotifierFunction", event) == {"batchItemFailures": []}
    assert [m["to"] for m in notices(api)[before:]] == [member]  # only who was not told


def test_a_record_costs_its_claim_and_one_write_per_notice(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools Idempotency wrote twice per recipient; the progress item once, plus the claim."""
    from wabaguard.models import NoticeProgress

    writes: list[Any] = []
    real = NoticeProgress.update

    def counted(self: NoticeProgress, *args: Any, **kwargs: Any) -> Any:
        writes.append(self.id)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(NoticeProgress, "update", counted)
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://w.example.com/"})
    deliver(world)
    assert len(writes) == 1 + len(acme_emails(acme)) and len(set(writes)) == 1
