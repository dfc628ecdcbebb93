"""Issue acceptance through `make dev`'s stack, as a user with curl would do it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Stack


def _code(stack: Stack, email: str, count_before: int) -> str:
    mails = stack.wait_for_outbox(
        lambda ms: any(m["to"] == email and "code is" in m["text"] for m in ms[count_before:])
    )
    mail = [m for m in mails[count_before:] if m["to"] == email and "code is" in m["text"]][-1]
    found = re.search(r"code is (\d{6})", mail["text"])
    assert found
    return found.group(1)


def _approved(stack: Stack, user: dict[str, Any], method: str, path: str, body: Any) -> tuple[Any, Any, str]:
    before = len(stack.outbox())
    ch = stack.request("POST", "/v1/otp/challenges", user["token"], {"method": method, "path": path, "body": body})
    assert ch.status == 201, ch.json()
    code = _code(stack, user["email"], before)
    headers = {"X-OTP-Challenge": ch.json()["challenge_id"], "X-OTP-Code": code, "Content-Type": "application/json"}
    return stack.request(method, path, user["token"], body, headers=headers), headers, code


def test_webhook_change_acceptance(stack: Stack) -> None:
    acme = stack.demo["accounts"][0]
    admin = acme["users"][0]
    path = f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"
    body = {"url": "https://hooks.example.net/wa"}
    without = stack.request("PUT", path, admin["token"], body)
    assert without.status == 403 and without.json()["error"] == "otp_required"
    before = len(stack.outbox())
    ch = stack.request("POST", "/v1/otp/challenges", admin["token"], {"method": "PUT", "path": path, "body": body})
    assert ch.status == 201
    code = _code(stack, admin["email"], before)
    mail = [m for m in stack.outbox() if "code is" in m["text"]][-1]
    assert "Set the webhook URL of +49 30 1234567 to https://hooks.example.net/wa" in mail["text"]
    assert mail["html"].startswith("<!DOCTYPE html>")
    headers = {"X-OTP-Challenge": ch.json()["challenge_id"], "X-OTP-Code": code}
    ok = stack.request("PUT", path, admin["token"], body, headers=headers)
    assert ok.status == 200 and ok.json() == body
    again = stack.request("PUT", path, admin["token"], body, headers=headers)  # a retry: the same answer
    assert again.status == 200 and again.json() == body and again.headers["Idempotent-Replayed"] == "true"
    other = stack.request("PUT", path, admin["token"], {"url": "https://evil.example.org/x"}, headers=headers)
    assert other.status == 403 and other.json()["error"] == "otp_used"


@pytest.mark.parametrize("action", ["template", "profile", "partner", "api_key"])
def test_the_other_seed_actions_work_the_same_way(stack: Stack, action: str) -> None:
    acme = stack.demo["accounts"][0]
    member = acme["users"][1]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    method, path, body, status = {
        "template": (
            "POST",
            f"/v1/accounts/{acme['account_id']}/templates",
            {
                "name": "welcome",
                "language": "de",
                "category": "MARKETING",
                "components": [{"type": "BODY", "text": "Hallo"}],
            },
            201,
        ),
        "profile": ("PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Schuhe für alle"}, 200),
        "partner": (
            "POST",
            f"/v1/accounts/{acme['account_id']}/partner-change-requests",
            {"target_partner_id": "prt_elsewhere", "reason": "moving"},
            201,
        ),
        "api_key": ("POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "shop"}, 201),
    }[action]
    assert stack.request(method, path, member["token"], body).json()["error"] == "otp_required"
    done, headers, _ = _approved(stack, member, method, path, body)
    assert done.status == status, done.json()
    retry = stack.request(method, path, member["token"], body, headers=headers)
    assert retry.status == status and retry.json() == done.json() and retry.headers["Idempotent-Replayed"] == "true"
