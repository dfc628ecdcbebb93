"""§WABA watch over HTTP against `make dev`: a change made at Meta (the stand-in's state) is found
at the next tick, told to Globex's people and its Partner's admins, flagged and paused; ops release
it, so the demo is left as a user would find it."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Stack


def _flags(stack: Stack, account: dict[str, Any]) -> list[dict[str, Any]]:
    admin = account["users"][0]
    return list(stack.request("GET", f"/v1/accounts/{account['account_id']}/flags", admin["token"]).json()["flags"])


def test_a_change_made_only_at_meta_is_found_told_flagged_and_released_by_ops(stack: Stack) -> None:
    globex = stack.demo["accounts"][1]
    waba = globex["waba_id"]
    assert stack.request("POST", "/_local/tick").status == 200  # the baseline (if the schedule has not read it)
    state = stack.request("GET", f"/_local/graph/state?waba_id={waba}")
    assert state.status == 200 and list(state.json()["apps"]) == [stack.demo["partner"]["meta_app_id"]]
    changed = stack.request(
        "POST",
        "/_local/graph/state",
        body={
            "waba_id": waba,
            "op": "add_assigned_user",
            "id": "61550000000001",
            "name": "Mallory",
            "tasks": ["MANAGE"],
        },
    )
    assert changed.status == 200 and "61550000000001" in changed.json()["users"]
    tick = stack.request("POST", "/_local/tick").json()
    assert tick["WabaWatchFunction"]["drifts"] == 1
    flags = [f for f in _flags(stack, globex) if f["rule"] == "waba_drift" and f["status"] == "open"]
    assert len(flags) == 1 and flags[0]["severity"] == "high" and "Mallory" in flags[0]["explanation"]
    people = {u["email"] for u in globex["users"]} | {stack.demo["partner"]["users"][0]["email"]}

    def drift_mails(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in ms if "Changed at Meta, not through wabaguard: Globex" in m["subject"]]

    mails = drift_mails(stack.wait_for_outbox(lambda ms: {m["to"] for m in drift_mails(ms)} >= people))
    assert len(mails) == len(people) and all("Mallory" in m["text"] for m in mails)
    assert stack.request("POST", "/_local/tick").json()["WabaWatchFunction"]["drifts"] == 0  # found once
    ops = {"Authorization": f"Bearer {stack.demo['ops']['token']}"}
    for flag in [f for f in _flags(stack, globex) if f["status"] == "open"]:
        resolve = f"/v1/ops/flags/{flag['flag_id']}/resolve"
        done = stack.request("POST", resolve, body={"verdict": "confirmed"}, headers=ops)
        assert done.status == 200, done.json()
    listing = stack.request("GET", f"/v1/accounts/{globex['account_id']}/flags", globex["users"][0]["token"]).json()
    assert listing["under_review"] is False


def test_the_stand_ins_state_route_refuses_what_meta_would_not_do(stack: Stack) -> None:
    waba = stack.demo["accounts"][1]["waba_id"]
    for body, field in (
        ({"waba_id": waba, "op": "teleport"}, "op"),
        ({"waba_id": "1", "op": "subscribe_app", "app_id": "9"}, "waba_id"),
        ({"waba_id": waba, "op": "subscribe_app"}, "app_id"),
        ({"waba_id": waba, "op": "set_phone_webhook", "meta_phone_number_id": "404"}, "meta_phone_number_id"),
    ):
        bad = stack.request("POST", "/_local/graph/state", body=body)
        assert bad.status == 400 and bad.json()["field"] == field, bad.json()
    assert stack.request("POST", "/_local/graph/state", raw=b"{nope").status == 400
    assert stack.request("GET", "/_local/graph/state").status == 400
    assert stack.request("GET", "/_local/graph/state?waba_id=1").status == 404
