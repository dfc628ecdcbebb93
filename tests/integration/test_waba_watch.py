"""§WABA watch: changes made at Meta that never passed through wabaguard — every kind of drift and
every non-drift (baseline, repeated run, approved change, Meta's own moves), backoff with the clock
injected, the token pause, the budget, pagination, races, and Meta's lifecycle webhooks."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from devstack import meta_spec
from devstack.server import World
from tests.integration.conftest import Api
from tests.integration.test_meta_webhooks import post, sample

WATCH = "WabaWatchFunction"
TEMPLATE = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Your order {{1}} shipped", "example": {"body_text": [["A-1"]]}}],
}


@pytest.fixture(autouse=True)
def on_the_tests_clock(moving: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock moves before anything is seeded, so enrollments happen at T0; backoffs are real."""
    monkeypatch.setenv("RETRY_DELAY_SCALE", "1")
    monkeypatch.setenv("GRAPH_TIMEOUT_S", "1")
    from wabaguard.config import settings

    settings.cache_clear()


def run(world: World, **event: Any) -> dict[str, Any]:
    out = world.functions.invoke(WATCH, event)
    assert isinstance(out, dict)
    return out


def after_a_period(world: World, moving: dict[str, Any]) -> dict[str, Any]:
    moving["now"] += timedelta(minutes=61)
    return run(world)


def snapshot(account: dict[str, Any]) -> Any:
    from wabaguard.models import WabaSnapshot

    return WabaSnapshot.get(*WabaSnapshot.key(account["account_id"], account["waba_id"]), consistent_read=True)


def drifts(account: dict[str, Any]) -> list[Any]:
    from wabaguard.models import WabaDrift, account_pk

    return list(WabaDrift.query(account_pk(account["account_id"]), WabaDrift.sk.startswith("DRIFT#")))


def meta(world: World, waba: str, op: str, **spec: Any) -> dict[str, Any]:
    status, out = world.graph.change_state({"waba_id": waba, "op": op, **spec})
    assert status == 200, out
    return out


def flags_of(api: Api, user: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    return list(api.call("GET", f"/v1/accounts/{account_id}/flags", user["token"]).json()["flags"])


def drift_mails(api: Api) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if "Changed at Meta, not through wabaguard" in m["subject"]]


# ------------------------------------------------------------------ baseline and repeated runs
def test_the_first_read_is_a_baseline_made_of_the_contracts_reads(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    out = run(world)
    assert out["watched"] == 2 and out["baselines"] == 2 and out["drifts"] == 0
    acme = demo["accounts"][0]
    snap = snapshot(acme)
    assert snap.state["apps"] and snap.state["phones"] and snap.state["users"] is not None
    assert snap.taken_at and snap.due_at > snap.taken_at  # its next turn, within the period
    reads = [(c["method"], c["path"].split("/", 2)[-1], c["query"]) for c in world.graph.recorded()]
    waba, phone = acme["waba_id"], acme["phone_numbers"][0]["meta_phone_number_id"]
    paths = {p for _, p, _ in reads}
    assert {f"{waba}/subscribed_apps", f"{waba}/phone_numbers", phone, f"{waba}/assigned_users",
            f"{waba}/message_templates"} <= paths  # fmt: skip
    assert all(m == "GET" for m, _, _ in reads)
    users = next(q for _, p, q in reads if p == f"{waba}/assigned_users")
    assert users["business"] == demo["partner"]["meta_business_id"]
    for call in world.graph.recorded():  # every answer has Meta's shape
        assert meta_spec.response_errors("GET", call["path"], int(call["status"]), call["answer"]) == [], call
    world.pump.pump()
    assert drift_mails(api) == [] and flags_of(api, acme["users"][0], acme["account_id"]) == []
    assert run(world)["watched"] == 0  # nobody's turn yet
    assert after_a_period(world, moving)["drifts"] == 0  # the same state, read again
    assert snapshot(acme).reads == 2


def test_reads_are_spread_over_the_period_and_a_turn_keeps_its_phase(world: World, demo: dict[str, Any]) -> None:
    from wabaguard.watch import schedule

    phases = {schedule.phase(str(i)) for i in range(200)}
    assert len(phases) > 150  # a hash spreads ids over the hour
    start = schedule.next_turn("1234", schedule.EPOCH + timedelta(days=30))
    later = schedule.next_turn("1234", start + timedelta(minutes=17))  # a late read
    assert later - start == schedule.period()  # the next turn is where it always was


# ------------------------------------------------------------------ every kind of drift
HIGH_DRIFTS = [
    ("subscribe_app", {"app_id": "777000111", "name": "Evil Relay", "override_callback_uri": "https://evil.example/h"},
     "app", "added"),
    ("set_phone_webhook", {"override_callback_uri": "https://evil.example/wa?token=s3cret"},
     "phone_webhook", "changed"),
    ("add_assigned_user", {"id": "888000222", "name": "Mallory", "tasks": ["MANAGE"]}, "user", "added"),
    ("add_phone_number", {"id": "999000333", "display_phone_number": "+44 20 7946 0000"}, "phone", "added"),
]  # fmt: skip


@pytest.mark.parametrize(("op", "spec", "area", "change"), HIGH_DRIFTS, ids=[d[0] for d in HIGH_DRIFTS])
def test_a_change_made_only_at_meta_is_high_drift_told_to_everyone_and_pauses_key_actions(
    api: Api,
    world: World,
    demo: dict[str, Any],
    moving: dict[str, Any],
    op: str,
    spec: dict[str, Any],
    area: str,
    change: str,
) -> None:
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    run(world)
    if op == "set_phone_webhook":
        spec = {**spec, "meta_phone_number_id": acme["phone_numbers"][0]["meta_phone_number_id"]}
    meta(world, acme["waba_id"], op, **spec)
    out = after_a_period(world, moving)
    assert out["drifts"] == 1
    (drift,) = drifts(acme)
    assert drift.severity == "high" and [(d["area"], d["change"]) for d in drift.differences] == [(area, change)]
    (flag,) = flags_of(api, admin, acme["account_id"])
    assert flag["rule"] == "waba_drift" and flag["severity"] == "high"
    assert "None of it came through wabaguard" in flag["explanation"]
    world.pump.pump()
    mails = drift_mails(api)
    told = {m["to"] for m in mails}
    assert told == {u["email"] for u in acme["users"]} | {demo["partner"]["users"][0]["email"]}
    text = mails[0]["text"]
    assert "→" in text and "not through wabaguard" in text
    assert "s3cret" not in text and all("s3cret" not in str(d) for d in drift.differences)  # a URL's query is masked
    # the review a high flag starts pauses key actions
    resp = api.challenge(admin["token"], "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    assert resp.status == 423 and resp.json()["error"] == "account_under_review"
    # one difference is flagged once
    assert after_a_period(world, moving)["drifts"] == 0 and len(drifts(acme)) == 1


def test_medium_drifts_templates_names_and_removals_are_told_and_flagged_medium(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    run(world)
    meta(world, acme["waba_id"], "create_template", name="promo_gift", language="en_US", category="MARKETING")
    assert after_a_period(world, moving)["drifts"] == 1
    (drift,) = drifts(acme)
    assert drift.severity == "medium" and drift.differences[0]["area"] == "template"
    (flag,) = flags_of(api, admin, acme["account_id"])
    assert flag["severity"] == "medium"
    world.pump.pump()
    assert len(drift_mails(api)) == 3 and not [m for m in api.outbox() if "flagged" in m["subject"].lower()]
    status = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()
    assert status["under_review"] is False  # medium: told and flagged, key actions go on


def test_apps_and_people_removed_or_changed_at_meta_are_drift_too(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    run(world)
    state = world.graph.state(acme["waba_id"])[1]
    (app_id,) = state["apps"]
    (user_id,) = state["users"]
    meta(world, acme["waba_id"], "unsubscribe_app", app_id=app_id)
    meta(world, acme["waba_id"], "remove_assigned_user", id=user_id)
    meta(
        world, acme["waba_id"], "subscribe_app", app_id="1010", name="Relay", override_callback_uri="https://x.example"
    )
    after_a_period(world, moving)
    (drift,) = drifts(acme)
    assert {(d["area"], d["change"]) for d in drift.differences} == {("app", "removed"), ("user", "removed"),
                                                                    ("app", "added")}  # fmt: skip
    meta(
        world, acme["waba_id"], "subscribe_app", app_id="1010", name="Relay", override_callback_uri="https://y.example"
    )
    after_a_period(world, moving)
    newest = max(drifts(acme), key=lambda d: d.found_at)
    assert [(d["area"], d["before"], d["after"]) for d in newest.differences] == [
        ("app_override", "https://x.example", "https://y.example")
    ]


# ------------------------------------------------------------------ not drift
def test_changes_approved_in_wabaguard_are_not_drift(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    run(world)
    resp = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    assert resp.status == 201
    resp = api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://hooks.acme.test/v2"})
    assert resp.status == 200, resp.json()
    world.pump.pump()  # both reach Meta
    out = after_a_period(world, moving)
    assert out["drifts"] == 0 and out["explained"] == 2
    assert drifts(acme) == [] and flags_of(api, admin, acme["account_id"]) == []


def test_a_webhook_override_wabaguard_set_then_changed_at_meta_is_drift(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    pn, meta_phone = acme["phone_numbers"][0]["phone_number_id"], acme["phone_numbers"][0]["meta_phone_number_id"]
    run(world)
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://hooks.acme.test/v2"})
    world.pump.pump()
    meta(world, acme["waba_id"], "set_phone_webhook", meta_phone_number_id=meta_phone,
         override_callback_uri="https://evil.example/wa")  # fmt: skip
    after_a_period(world, moving)
    (drift,) = drifts(acme)  # wabaguard set another URL than the one Meta now has
    assert (
        drift.differences[0]["area"] == "phone_webhook" and drift.differences[0]["after"] == "https://evil.example/wa"
    )


def test_metas_own_moves_are_not_drift(api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]) -> None:
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    meta_phone = acme["phone_numbers"][0]["meta_phone_number_id"]
    api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/templates", TEMPLATE)
    world.pump.pump()
    run(world)
    meta(world, acme["waba_id"], "set_template_status", name="order_shipped", language="en_US", status="APPROVED")
    meta(world, acme["waba_id"], "set_phone_quality", meta_phone_number_id=meta_phone, quality_rating="YELLOW")
    out = after_a_period(world, moving)
    assert out["watched"] == 2 and out["drifts"] == 0 and drifts(acme) == []
    assert snapshot(acme).state["phones"][meta_phone]["quality_rating"] == "YELLOW"  # kept, to explain


# ------------------------------------------------------------------ a good Graph citizen
def test_throttling_backs_off_one_waba_without_losing_its_turn(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.watch import runner, schedule

    acme = demo["accounts"][0]
    world.graph.add_fault({"kind": "throttle", "method": "GET", "path_contains": f"{acme['waba_id']}/subscribed_apps"})
    out = run(world)
    assert out["backed_off"] == 1 and out["graph_errors"] == 1 and out["baselines"] == 1  # Globex is read
    snap = snapshot(acme)
    assert snap.state is None and "80007" in (snap.last_error or "")
    assert snap.due_at == schedule.stamp(moving["now"] + runner.backoff(1))
    assert run(world)["watched"] == 0  # still backing off
    moving["now"] += runner.backoff(1)
    assert run(world)["baselines"] == 1
    snap = snapshot(acme)
    assert snap.attempts == 0 and snap.last_error is None
    assert snap.slot_at == schedule.stamp(schedule.next_turn(acme["waba_id"], moving["now"]))  # its own phase


@pytest.mark.parametrize("fault", ["transient", "rate_limited", "throttle"])
def test_every_transient_answer_backs_off_and_repeated_failures_wait_longer(
    world: World, demo: dict[str, Any], moving: dict[str, Any], fault: str
) -> None:
    from wabaguard.watch import runner, schedule

    acme = demo["accounts"][0]
    world.graph.add_fault(
        {"kind": fault, "times": 2, "method": "GET", "path_contains": f"{acme['waba_id']}/phone_numbers"}
    )
    run(world)
    moving["now"] += runner.backoff(1)
    assert run(world)["backed_off"] == 1
    assert snapshot(acme).due_at == schedule.stamp(moving["now"] + runner.backoff(2))
    assert runner.backoff(2) > runner.backoff(1)


def test_a_refused_token_pauses_every_read_and_fires_the_platform_alarm(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.models import WatchPause

    world.graph.add_fault({"kind": "auth", "method": "GET"})
    out = run(world)
    assert out["config_errors"] == 1 and out["watched"] == 0  # the second WABA is not even tried
    assert len(world.graph.recorded()) == 1
    assert run(world)["paused"] == 1
    moving["now"] += timedelta(minutes=16)
    out = run(world)
    assert out["baselines"] == 2
    with pytest.raises(WatchPause.DoesNotExist):
        WatchPause.get(*WatchPause.key())


def test_a_run_makes_at_most_its_budget_of_calls_and_the_rest_keep_their_turn(
    world: World, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.config import settings

    monkeypatch.setenv("WABA_WATCH_MAX_CALLS", "12")
    settings.cache_clear()
    acme = demo["accounts"][0]
    for i in range(3):  # Acme's read takes 8 calls, Globex's 5: both do not fit in 12
        meta(world, acme["waba_id"], "add_phone_number", id=f"70000000{i}", display_phone_number=f"+49 30 555 000{i}")
    first = run(world)
    assert first["calls"] <= 12 and first["watched"] == 1 and first["deferred"] == 1
    second = run(world)
    assert second["watched"] == 1 and second["deferred"] == 0
    assert len(world.graph.recorded()) == first["calls"] + second["calls"]


def test_every_page_is_followed(world: World, demo: dict[str, Any], moving: dict[str, Any]) -> None:
    acme = demo["accounts"][0]
    for i in range(130):  # more than one page of 100
        meta(world, acme["waba_id"], "create_template", name=f"t_{i:03}", language="en_US", category="UTILITY")
    run(world)
    assert len(snapshot(acme).state["templates"]) == 130
    pages = [c for c in world.graph.recorded() if c["path"].endswith(f"{acme['waba_id']}/message_templates")]
    assert len(pages) == 2 and pages[1]["query"]["after"]
    meta(world, acme["waba_id"], "create_template", name="zz_last", language="en_US", category="MARKETING")
    after_a_period(world, moving)
    (drift,) = drifts(acme)
    assert drift.differences[0]["key"] == "zz_last|en_US"


def test_a_waba_meta_no_longer_shares_waits_for_its_next_turn(world: World, demo: dict[str, Any]) -> None:
    acme = demo["accounts"][0]
    world.graph.wabas.pop(acme["waba_id"])  # unshared at Meta: "Object … does not exist"
    out = run(world)
    assert out["graph_errors"] == 1 and out["backed_off"] == 0 and out["baselines"] == 1
    snap = snapshot(acme)
    assert "does not exist" in snap.last_error and snap.due_at > snap.enrolled_at


# ------------------------------------------------------------------ races
def test_two_runs_at_once_read_a_waba_once(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    run(world)
    meta(world, acme["waba_id"], "subscribe_app", app_id="4242", name="Relay")
    moving["now"] += timedelta(minutes=61)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(run(world))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["watched"] for r in results) == 2  # each WABA once
    assert len(drifts(acme)) == 1


def test_a_stale_read_does_not_replace_a_newer_snapshot(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.watch import runner

    acme = demo["accounts"][0]
    run(world)
    old = snapshot(acme)
    meta(world, acme["waba_id"], "subscribe_app", app_id="4242", name="Relay")
    moving["now"] += timedelta(minutes=61)
    run(world)  # finds the drift and replaces the snapshot
    state = dict(old.state)
    state["apps"] = {**state["apps"], "4242": {"name": "Relay", "override_callback_uri": None}}
    assert runner._replace(old, state, moving["now"], []) is False  # compared with a read that is gone
    assert len(drifts(acme)) == 1


# ------------------------------------------------------------------ Meta's lifecycle webhooks
@pytest.mark.parametrize(
    ("name", "rule", "severity"),
    [
        ("account_update_account_offboarded", "meta_account_offboarded", "medium"),
        ("account_update_account_deleted", "meta_account_deleted", "high"),
        ("account_update_partner_app_installed", "meta_partner_change", "high"),
        ("account_update_account_reconnected", None, None),
    ],
)
def test_metas_lifecycle_webhooks_are_told_flagged_and_read_at_once(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any], name: str, rule: str | None,
    severity: str | None
) -> None:  # fmt: skip
    from wabaguard.models import WabaSnapshot
    from wabaguard.watch import schedule

    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    run(world)
    moving["now"] += timedelta(minutes=2)
    later = schedule.stamp(moving["now"] + timedelta(minutes=30))
    snapshot(acme).update(actions=[WabaSnapshot.due_at.set(later)])  # its turn is not now
    resp = post(api, world, sample(name, acme))
    assert resp.status == 200 and resp.json()["recorded"] == 1
    flags = flags_of(api, admin, acme["account_id"])
    assert [(f["rule"], f["severity"]) for f in flags] == ([(rule, severity)] if rule else [])
    world.pump.pump()
    assert [m for m in api.outbox() if "WhatsApp reported" in m["subject"] or "wabaguard" in m["subject"]]
    from wabaguard.models import iso

    assert snapshot(acme).due_at == schedule.stamp(moving["now"])  # asked for at once
    assert run(world)["watched"] >= 1  # (Globex too, if its turn happens to fall in these two minutes)
    assert snapshot(acme).taken_at == iso(moving["now"])  # Acme read now, out of its turn


def test_accounts_onboarded_before_the_watch_are_enrolled_once(world: World, demo: dict[str, Any]) -> None:
    from devstack.seed import create_account
    from tools.watch_enroll import enroll_all

    old = create_account("Before the watch", waba_id="123456789012345")  # seeded directly: not watched
    assert enroll_all() == {"accounts": 3, "enrolled": 1, "watched_already": 2}
    assert snapshot({"account_id": old.account_id, "waba_id": "123456789012345"}).due == "waba_watch"
    assert enroll_all()["enrolled"] == 0


def test_a_partner_change_submitted_in_wabaguard_explains_the_apps_that_move_at_meta(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.models import Account

    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    Account(*Account.key("prt_next")).update(actions=[Account.meta_app_id.set("3030303030")])
    run(world)
    path = f"/v1/accounts/{acme['account_id']}/partner-change-requests"
    assert api.approved(admin, "POST", path, {"target_partner_id": "prt_next"}).status == 201
    world.pump.pump()  # its notices are delivered: it may be submitted
    moving["now"] += timedelta(hours=25)  # past the cooling-off
    assert world.run_schedule("PartnerChangeFunction")["submitted"] == 1
    meta(world, acme["waba_id"], "unsubscribe_app", app_id=demo["partner"]["meta_app_id"])  # the BSP moves it
    meta(world, acme["waba_id"], "subscribe_app", app_id="3030303030", name="Next Partners app")
    out = run(world)
    assert out["watched"] == 2 and out["explained"] == 2 and out["drifts"] == 0 and drifts(acme) == []


def test_a_fault_queued_for_an_approved_change_is_not_taken_by_the_watchs_reads(
    world: World, demo: dict[str, Any]
) -> None:
    world.graph.add_fault({"kind": "permanent", "message": "for the next change"})  # POST, by default
    assert run(world)["baselines"] == 2
    assert [f["kind"] for f in world.graph.faults] == ["permanent"]
