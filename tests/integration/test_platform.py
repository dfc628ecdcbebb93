"""§Platform: approved changes reach Meta's Graph API (the stand-in) once, in order, retried
until Meta answers; refusals are marked failed and told; nothing is lost in a crash."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from devstack.server import World
from tests.integration.conftest import Api

TEMPLATE = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Good news"},
        {"type": "BODY", "text": "Your order {{1}} shipped", "example": {"body_text": [["A-1"]]}},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.example.com/t/{{1}}"}]},
    ],
}


@pytest.fixture(autouse=True)
def quick_graph(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    """The client gives up after 1 s here; the stand-in's timeout faults hang a little longer."""
    monkeypatch.setenv("GRAPH_TIMEOUT_S", "1")
    monkeypatch.setenv("RETRY_DELAY_SCALE", "1")  # Meta's real backoff, on the test's clock
    world.graph.timeout_s = 1.5


def graph_calls(world: World, method: str = "POST") -> list[dict[str, Any]]:
    return [c for c in world.graph.recorded() if c["method"] == method]


def sweep(world: World) -> Any:
    return world.run_schedule("PlatformApplyFunction")


def templates(api: Api, user: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    resp = api.call("GET", f"/v1/accounts/{account_id}/templates", user["token"])
    assert resp.status == 200, resp.json()
    return list(resp.json()["templates"])


def mails_about(api: Api, words: str) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if words in m["subject"]]


# ------------------------------------------------------------------ one call per approved change
def test_an_approved_template_is_created_at_meta_once_with_the_approved_body(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any]
) -> None:
    resp = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    assert resp.status == 201
    assert resp.json()["platform"]["status"] == "pending"
    world.pump.pump()
    (call,) = graph_calls(world)
    assert call["path"] == f"/v23.0/{acme['waba_id']}/message_templates"
    assert call["body"] == TEMPLATE  # exactly what was approved, in Meta's own shape
    assert call["status"] == 200
    (tpl,) = templates(api, admin, acme["account_id"])
    assert tpl["meta_template_id"] == call["answer"]["id"] and tpl["status"] == "PENDING"
    assert tpl["platform"]["status"] == "applied"
    sweep(world)  # nothing is due any more: no second call
    assert len(graph_calls(world)) == 1
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    assert any(e["kind"] == "platform_change" and e["detail"].startswith("applied") for e in events)


def test_a_profile_change_sends_messaging_product_and_only_the_changed_fields(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    meta_phone = acme["phone_numbers"][0]["meta_phone_number_id"]
    resp = api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Socks!", "vertical": "RETAIL"})
    assert resp.status == 200 and resp.json()["platform"]["status"] == "pending"
    world.pump.pump()
    (call,) = graph_calls(world)
    assert call["path"] == f"/v23.0/{meta_phone}/whatsapp_business_profile"
    assert call["body"] == {"messaging_product": "whatsapp", "about": "Socks!", "vertical": "RETAIL"}
    phone = api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()
    assert phone["platform"]["status"] == "applied" and phone["platform"]["profile"]["status"] == "applied"
    assert phone["platform"]["webhook_url"] is None
    assert world.graph.profiles[meta_phone] == {"about": "Socks!", "vertical": "RETAIL"}


def test_a_webhook_change_carries_the_verify_token_to_meta_and_nowhere_else(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from wabaguard.models import PlatformChange

    secret = "vt-Sup3r-s3cret-verify"
    body = {"url": "https://hooks.example.net/wa", "verify_token": secret}
    resp = api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", body)
    assert resp.status == 200 and secret not in resp.body.decode()
    world.pump.pump()
    (call,) = graph_calls(world)
    meta_phone = acme["phone_numbers"][0]["meta_phone_number_id"]
    assert call["path"] == f"/v23.0/{meta_phone}"
    config = call["body"]["webhook_configuration"]
    assert config["override_callback_uri"] == body["url"]
    assert config["verify_token_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert world.graph.webhooks[meta_phone]["verify_token"] == secret  # Meta got it
    stored = [json.dumps(c.attribute_values, default=str) for c in PlatformChange.scan()]
    assert stored and not any(secret in s for s in stored)
    assert not any(secret in m["text"] or secret in m["html"] for m in api.outbox())
    assert secret not in capsys.readouterr().out
    phone = api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()
    assert secret not in json.dumps(phone) and phone["platform"]["webhook_url"]["status"] == "applied"


# ------------------------------------------------------------------ retried until applied, exactly once
@pytest.mark.parametrize("kind", ["transient", "throttle", "rate_limited", "timeout"])
def test_a_transient_failure_is_retried_with_backoff_and_applied_once(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], moving: dict[str, Any], kind: str
) -> None:
    world.graph.add_fault({"kind": kind, "times": 2})
    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    world.pump.pump()  # first attempt, refused
    (tpl,) = templates(api, admin, acme["account_id"])
    assert tpl["platform"]["status"] == "pending" and "retrying" in tpl["platform"]["detail"]
    assert sweep(world)["applied"] == 0  # not due yet: the backoff holds it
    moving["now"] += timedelta(seconds=15)
    sweep(world)  # second attempt, refused again
    moving["now"] += timedelta(seconds=5)
    assert sweep(world)["applied"] == 0  # the second backoff (30 s) is longer
    moving["now"] += timedelta(seconds=40)
    assert sweep(world)["applied"] == 1
    assert [c["status"] for c in graph_calls(world)][-1] == 200
    assert len(world.graph.templates[acme["waba_id"]]) == 1
    assert templates(api, admin, acme["account_id"])[0]["platform"]["status"] == "applied"


def test_a_template_created_at_meta_whose_answer_was_lost_is_found_not_created_twice(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], moving: dict[str, Any]
) -> None:
    world.graph.add_fault({"kind": "lost_answer", "path_contains": "message_templates"})
    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    world.pump.pump()  # Meta creates it; the answer never comes (client timeout)
    assert len(world.graph.templates[acme["waba_id"]]) == 1
    moving["now"] += timedelta(minutes=1)
    assert sweep(world)["applied"] == 1  # Meta says "already exists": looked up by name and language
    (meta_tpl,) = world.graph.templates[acme["waba_id"]]
    (tpl,) = templates(api, admin, acme["account_id"])
    assert tpl["meta_template_id"] == meta_tpl["id"] and tpl["platform"]["status"] == "applied"
    calls = sorted(world.graph.recorded(), key=lambda c: c["at"])
    assert [c["method"] for c in calls] == ["POST", "POST", "GET"]


def test_a_name_taken_at_meta_outside_wabaguard_fails_on_the_first_attempt(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any]
) -> None:
    world.graph.templates[acme["waba_id"]] = [
        {"id": "1", "name": TEMPLATE["name"], "language": "en_US", "category": "UTILITY", "status": "APPROVED"}
    ]
    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    world.pump.pump()
    (tpl,) = templates(api, admin, acme["account_id"])
    assert tpl["platform"]["status"] == "failed" and "already exists" in tpl["platform"]["detail"]


# ------------------------------------------------------------------ permanent refusals
def test_a_permanent_refusal_marks_the_change_failed_with_metas_words_and_tells_every_user(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    words = "The website URL is blocked by WhatsApp policy"
    world.graph.add_fault({"kind": "permanent", "message": words})
    resp = api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"websites": ["https://shop.example.com"]})
    assert resp.status == 200
    world.pump.pump()  # the applier marks it failed; the stream carries that to the notifier
    world.pump.pump()
    phone = api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()
    assert phone["platform"]["status"] == "failed" and words in phone["platform"]["detail"]
    told = mails_about(api, "WhatsApp refused")
    assert sorted(m["to"] for m in told) == sorted(u["email"] for u in acme["users"])
    assert all(words in m["text"] and "+49 30 1234567" in m["text"] for m in told)
    assert all("/report/" not in m["text"] for m in told)  # no "this wasn't me" link on Meta's refusal
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    assert any(e["kind"] == "platform_change" and e["detail"] == f"failed: {words}" for e in events)
    world.pump.pump()
    assert len(mails_about(api, "WhatsApp refused")) == len(told)  # once


def test_transient_failures_for_a_day_end_as_failed(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], moving: dict[str, Any]
) -> None:
    world.graph.add_fault({"kind": "transient", "times": 1000})
    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    world.pump.pump()
    for _ in range(30):
        moving["now"] += timedelta(hours=1)
        sweep(world)
    (tpl,) = templates(api, admin, acme["account_id"])
    assert tpl["platform"]["status"] == "failed" and "within 24 hours" in tpl["platform"]["detail"]
    posts = len(graph_calls(world))
    assert 20 <= posts <= 40  # backed off: about one attempt an hour, not one a second


def test_an_expired_system_user_token_keeps_the_change_waiting_not_failed(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], moving: dict[str, Any]
) -> None:
    world.graph.add_fault({"kind": "auth", "times": 3})
    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    world.pump.pump()
    for _ in range(3):
        moving["now"] += timedelta(minutes=5)
        sweep(world)
    (tpl,) = templates(api, admin, acme["account_id"])
    assert tpl["platform"]["status"] == "applied"
    assert not mails_about(api, "WhatsApp refused")


# ------------------------------------------------------------------ crash, order, races
def test_a_crash_after_the_approval_loses_nothing(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.whatsapp import changes

    def crash(*_: Any) -> Any:
        raise RuntimeError("the container died mid-call")

    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(changes, "_call", crash)
        world.pump.pump()  # the stream delivery dies after the claim, and its retries find it leased
    assert graph_calls(world) == []
    assert sweep(world)["applied"] == 0  # the dead worker's lease still holds
    moving["now"] += changes.LEASE + timedelta(seconds=1)
    assert sweep(world)["applied"] == 1
    assert len(graph_calls(world)) == 1


def test_changes_of_one_profile_reach_meta_in_the_order_they_were_approved(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, moving: dict[str, Any]
) -> None:
    meta_phone = acme["phone_numbers"][0]["meta_phone_number_id"]
    world.graph.add_fault({"kind": "transient", "times": 1})
    api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "first"})
    moving["now"] += timedelta(seconds=1)
    api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "second"})
    world.pump.pump()  # the first fails transiently; the second must not overtake it
    assert [c["body"].get("about") for c in graph_calls(world)] == ["first"]
    for _ in range(4):
        moving["now"] += timedelta(seconds=20)
        sweep(world)
    assert [c["body"]["about"] for c in graph_calls(world) if c["status"] == 200] == ["first", "second"]
    assert world.graph.profiles[meta_phone]["about"] == "second"


def test_two_workers_on_one_change_make_one_call(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any]
) -> None:
    from wabaguard.models import PlatformChange
    from wabaguard.whatsapp import changes, graph

    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    (change,) = list(PlatformChange.scan())
    barrier = threading.Barrier(8)
    results: list[changes.Summary] = []

    def worker() -> None:
        barrier.wait()
        results.append(changes.apply(change.pk, change.sk, graph.from_environment))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.applied for r in results) == 1 and sum(r.skipped for r in results) == 7
    assert len(graph_calls(world)) == 1



@pytest.mark.parametrize("action", ["profile", "template"])
def test_a_change_another_worker_ended_is_neither_written_nor_audited_again(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, action: str
) -> None:
    """A worker whose lease ran out while Meta was slow ends the change late: its conditional end
    (one update for a profile, a transaction with the template for a template) writes nothing."""
    from wabaguard import clock
    from wabaguard.models import ActivityRecord, PlatformChange
    from wabaguard.whatsapp import changes
    from wabaguard.whatsapp.graph import Outcome

    if action == "profile":
        api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Late"})
    else:
        api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    (stale,) = list(PlatformChange.scan())
    PlatformChange.get(stale.pk, stale.sk).update(actions=[PlatformChange.status.set("applied")])
    audited = len([r for r in ActivityRecord.scan() if getattr(r, "kind", None) == "platform_change"])
    outcome = Outcome("applied", 200, {"success": True, "id": "1"})
    changes._applied(stale, outcome, clock.utcnow())
    changes._failed(stale, "refused late", clock.utcnow())
    after = PlatformChange.get(stale.pk, stale.sk)
    assert after.status == "applied" and after.detail != "refused late"
    assert len([r for r in ActivityRecord.scan() if getattr(r, "kind", None) == "platform_change"]) == audited


# ------------------------------------------------------------------ refused before a code is sent
@pytest.mark.parametrize(
    ("path_kind", "body", "field"),
    [
        ("profile", {"vertical": "SPACE_TRAVEL"}, "body.vertical"),
        ("template", {**TEMPLATE, "components": [{"type": "CAROUSELX", "text": "x"}]}, "body.components[0].type"),
        (
            "template",
            {**TEMPLATE, "components": [{"type": "HEADER", "format": "GIF"}, {"type": "BODY", "text": "x"}]},
            "body.components[0].format",
        ),
        ("template", {**TEMPLATE, "components": [{"type": "FOOTER", "text": "bye"}]}, "body.components"),
        ("template", {**TEMPLATE, "components": [{"type": "BODY", "text": "x" * 1025}]}, "body.components[0].text"),
        ("template", {**TEMPLATE, "name": "Order-Shipped"}, "body.name"),
        (
            "template",
            {**TEMPLATE, "components": [{"type": "BODY", "text": "a"}, {"type": "BODY", "text": "b"}]},
            "body.components[1].type",
        ),
        (
            "template",
            {
                **TEMPLATE,
                "components": [
                    {"type": "BODY", "text": "a"},
                    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Go"}]},
                ],
            },
            "body.components[1].buttons[0].url",
        ),
    ],
)
def test_a_body_meta_would_refuse_on_form_is_refused_before_a_code_is_sent(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], pn: str, path_kind: str, body: dict[str, Any], field: str
) -> None:
    method, path = (
        ("PATCH", f"/v1/phone-numbers/{pn}/profile")
        if path_kind == "profile"
        else ("POST", f"/v1/accounts/{acme['account_id']}/templates")
    )
    before = len(api.outbox())
    resp = api.challenge(admin["token"], method, path, body)
    assert resp.status == 400 and resp.json()["field"] == field, resp.json()
    assert len(api.outbox()) == before  # no code was sent


def test_a_change_without_metas_ids_is_refused_before_a_code_is_sent(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], pn: str
) -> None:
    from wabaguard.models import PhoneNumber

    phone = PhoneNumber.get(*PhoneNumber.key(pn))
    phone.update(actions=[PhoneNumber.meta_phone_number_id.remove()])
    resp = api.challenge(admin["token"], "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://h.example.com/"})
    assert resp.status == 409 and "Meta Phone-Number-ID" in resp.json()["detail"]
