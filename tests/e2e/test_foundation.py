from __future__ import annotations

from tests.e2e.conftest import Stack


def test_demo_json_has_the_local_shape(stack: Stack) -> None:
    demo = stack.demo
    assert demo["api"] == stack.base + "/v1"
    assert demo["partner"]["partner_id"].startswith("prt_")
    assert [u["role"] for u in demo["partner"]["users"]] == ["admin"]
    acme, globex = demo["accounts"]
    assert acme["name"] == "Acme Shoes" and [u["role"] for u in acme["users"]] == ["admin", "member"]
    assert globex["name"] == "Globex" and [u["role"] for u in globex["users"]] == ["admin"]
    for account in demo["accounts"]:
        assert set(account) == {"account_id", "name", "waba_id", "phone_numbers", "users"}
        assert account["waba_id"].isdigit()
        assert len(account["phone_numbers"]) == 1
        phone = account["phone_numbers"][0]
        assert set(phone) == {"phone_number_id", "display", "meta_phone_number_id", "display_phone_number"}
        assert phone["display_phone_number"] == "".join(c for c in phone["display"] if c.isdigit())
        for user in account["users"]:
            assert set(user) == {"user_id", "email", "role", "token"}


def test_me_without_token_is_401_json(stack: Stack) -> None:
    reply = stack.request("GET", "/v1/me")
    assert reply.status == 401
    assert reply.json()["error"] == "unauthorized"
    assert reply.headers["Content-Type"] == "application/json"


def test_me_with_demo_token_names_the_account(stack: Stack) -> None:
    acme = stack.demo["accounts"][0]
    reply = stack.request("GET", "/v1/me", acme["users"][0]["token"])
    assert reply.status == 200
    assert reply.json()["account"]["account_id"] == acme["account_id"]


def test_ready_line_lists_demo_tokens(stack: Stack) -> None:
    printed = "".join(stack.output)
    for user in stack.demo["accounts"][0]["users"]:
        assert user["token"] in printed


def test_local_routes(stack: Stack) -> None:
    assert stack.request("GET", "/_local/health").json() == {"status": "ok"}
    assert isinstance(stack.outbox(), list)
    bad = stack.request("POST", "/_local/activity", body={"not": "a list"})
    assert bad.status == 400 and bad.json()["error"] == "invalid_request"
    ok = stack.request(
        "POST",
        "/_local/activity",
        body=[
            {
                "account_id": "acc_new_e2e",
                "kind": "messages_sent",
                "at": "2026-11-24T10:00:00Z",
                "phone_number_id": "pn_x",
                "count": 120,
                "countries": {"DE": 100, "AT": 20},
            }
        ],
    )
    assert ok.status == 200 and ok.json() == {"written": 1, "accounts_created": ["acc_new_e2e"]}
    scan = stack.request("POST", "/_local/risk-scan")
    assert scan.status == 200 and isinstance(scan.json(), list)


def test_local_routes_refuse_a_rebound_host_name(stack: Stack) -> None:
    """Review item 20: a page on a DNS-rebinding name reaches 127.0.0.1 with its own Host header."""
    refused = stack.request("GET", "/_local/outbox", headers={"Host": "rebind.attacker.test:3000"})
    assert refused.status == 403 and refused.json()["error"] == "forbidden"
    assert stack.request("GET", "/_local/outbox").status == 200


def test_the_onboarding_client_creates_an_account_whose_admin_can_sign_in(stack: Stack) -> None:
    """tools/onboard.py, as the README's deploy section uses it (locally with the ops token)."""
    import json
    import subprocess
    import sys

    from devstack.cfn import ROOT

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.onboard",
            "--api",
            stack.base + "/v1",
            "--name",
            "Umbrella",
            "--waba-id",
            "555000111222333",
            "--phone",
            "+4940123456:777000111222",
            "--admin-email",
            "boss@umbrella.test",
            "--ops-token",
            stack.demo["ops"]["token"],
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert "token" not in out["admin"] and out["admin"]["invite"]["status"] == "emailed"
    me = stack.request("GET", "/v1/me", stack.accept_invite("boss@umbrella.test")).json()
    assert me["account"]["name"] == "Umbrella" and me["role"] == "admin"
