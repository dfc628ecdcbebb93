"""§Partner change through ``make dev``'s stack (cooling-off shortened with
``PARTNER_CHANGE_COOLING_OFF_S``, as the README says): the link in the notice asks on GET and
cancels on POST; a request nobody cancels is submitted by the schedule and everyone is told."""

from __future__ import annotations

import re

from tests.e2e.conftest import COOLING_OFF_S, Stack
from tests.e2e.test_key_actions import _approved, _wait


def _requests(stack: Stack, user: dict, account_id: str) -> list[dict]:
    resp = stack.request("GET", f"/v1/accounts/{account_id}/partner-change-requests", user["token"])
    assert resp.status == 200, resp.json()
    return list(resp.json()["requests"])


def test_a_link_cancels_and_an_uncancelled_request_is_submitted_after_its_cooling_off(stack: Stack) -> None:
    globex = stack.demo["accounts"][1]
    admin = globex["users"][0]
    path = f"/v1/accounts/{globex['account_id']}/partner-change-requests"
    target = {"target_partner_id": stack.demo["other_partner"]["partner_id"]}
    first, _, _ = _approved(stack, admin, "POST", path, target)
    assert first.status == 201 and first.json()["status"] == "COOLING_OFF", first.json()
    mails = stack.wait_for_outbox(
        lambda ms: any(m["to"] == admin["email"] and "Partner change requested for Globex" in m["subject"] for m in ms)
    )
    text = [m for m in mails if m["to"] == admin["email"] and "Partner change requested for Globex" in m["subject"]][-1]
    link = re.search(r"(/v1/partner-change/cancel/\S+)", text["text"])
    assert link
    asked = stack.request("GET", link.group(1))
    assert asked.status == 200 and b"Cancel this Partner change" in asked.body
    assert _requests(stack, admin, globex["account_id"])[0]["status"] == "COOLING_OFF"
    done = stack.request("POST", link.group(1))
    assert done.status == 200 and b"cancelled" in done.body
    assert _requests(stack, admin, globex["account_id"])[0]["status"] == "CANCELLED"

    second, _, _ = _approved(stack, admin, "POST", path, target)
    assert second.status == 201, second.json()
    request_id = second.json()["request_id"]

    def submitted() -> dict | None:
        found = [r for r in _requests(stack, admin, globex["account_id"]) if r["request_id"] == request_id]
        return found[0] if found and found[0]["status"] == "SUBMITTED" else None

    listed = _wait(submitted, timeout=COOLING_OFF_S + 30)
    assert [e["event"] for e in listed["timeline"]] == ["requested", "submitted"]
    stack.wait_for_outbox(lambda ms: any("Partner change for Globex submitted" in m["subject"] for m in ms))
    # the BSP's signal to move the WABA: an EventBridge event that a rule routes (README)
    events = _wait(
        lambda: [e for e in stack.request("GET", "/_local/eventbridge").json()
                 if e["detail"]["request_id"] == request_id] or None
    )
    (event,) = events
    assert event["source"] == "wabaguard" and event["detail-type"] == "Partner change submitted"
    assert event["detail"]["to_partner"]["name"] == stack.demo["other_partner"]["name"]
    assert event["detail"]["waba_id"] == globex["waba_id"]
