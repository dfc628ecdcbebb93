"""§Passkeys (issue 23): registration, approval inline and on wabaguard's page, every refusal, the
security policy, receipts anyone can verify, and a sign counter that goes back."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from wabaguard.passkeys.binding import approval_challenge, b64url, from_b64url
from wabaguard.security import body_digest

from devstack.server import World
from tests.integration.conftest import ORIGIN, RP_ID, Api, authenticator
from tests.passkey_authenticator import SoftAuthenticator, header

HOOK = {"url": "https://hooks.example.net/passkey"}


def _webhook(pn: str) -> str:
    return f"/v1/phone-numbers/{pn}/webhook"


def _account_mails(api: Api, subject_part: str) -> set[str]:
    api.world.pump.pump()
    return {m["to"] for m in api.outbox() if subject_part in m["subject"]}


def test_registration_options_require_user_verification_and_exclude_the_users_passkeys(
    api: Api, admin: dict[str, Any]
) -> None:
    first = api.call("POST", "/v1/me/passkeys/options", admin["token"])
    assert first.status == 200
    pk = first.json()["publicKey"]
    assert pk["rp"]["id"] == RP_ID and pk["authenticatorSelection"]["userVerification"] == "required"
    assert pk["excludeCredentials"] == [] and first.json()["expires_in"] == 600
    auth = authenticator()
    made = api.register_passkey(admin, auth)
    assert set(made) == {"passkey_id", "name", "created_at", "last_used_at", "backed_up"}
    again = api.call("POST", "/v1/me/passkeys/options", admin["token"]).json()["publicKey"]
    assert [c["id"] for c in again["excludeCredentials"]] == [b64url(auth.credential_id)]
    listed = api.call("GET", "/v1/me/passkeys", admin["token"]).json()["passkeys"]
    assert [p["passkey_id"] for p in listed] == [made["passkey_id"]]


def test_registering_tells_every_user_of_the_account(api: Api, acme: dict[str, Any], admin: dict[str, Any]) -> None:
    api.register_passkey(admin, authenticator(), "Work laptop")
    told = _account_mails(api, "New passkey for admin@acme.test")
    assert {u["email"] for u in acme["users"]} <= told


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda a, o: a.register(o, origin="https://phish.example"), id="another-origin"),
        pytest.param(lambda a, o: a.register({**o, "challenge": b64url(b"x" * 32)}), id="another-challenge"),
        pytest.param(lambda a, o: SoftAuthenticator(RP_ID, ORIGIN, user_verified=False).register(o), id="no-uv"),
        pytest.param(lambda a, o: SoftAuthenticator("evil.example", ORIGIN).register(o), id="another-rp"),
        pytest.param(lambda a, o: {"id": "x"}, id="garbage"),
    ],
)
def test_a_registration_that_does_not_check_out_gets_no_challenge(api: Api, admin: dict[str, Any], bad: Any) -> None:
    opts = api.call("POST", "/v1/me/passkeys/options", admin["token"]).json()["publicKey"]
    body = {"name": "x", "credential": bad(authenticator(), opts)}
    resp = api.challenge(admin["token"], "POST", "/v1/me/passkeys", body)
    assert resp.status == 400 and resp.json()["field"] == "body.credential", resp.json()
    assert not [m for m in api.outbox() if "code" in m["subject"]]  # no code for a request that would fail


def test_registration_options_are_spent_by_the_registration(api: Api, admin: dict[str, Any]) -> None:
    opts = api.call("POST", "/v1/me/passkeys/options", admin["token"]).json()["publicKey"]
    first, second = authenticator(), authenticator()
    body = {"name": "one", "credential": first.register(opts)}
    assert api.approved(admin, "POST", "/v1/me/passkeys", body).status == 201
    reused = api.challenge(admin["token"], "POST", "/v1/me/passkeys", {"name": "two", "credential": second.register(opts)})
    assert reused.status == 400 and "options" in reused.json()["detail"]


def test_a_user_with_a_passkey_gets_a_passkey_challenge_bound_to_the_exact_request(
    api: Api, admin: dict[str, Any], pn: str
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK)
    assert ch.status == 201
    out = ch.json()
    assert out["channel"] == "passkey" and out["destination"] == "passkey"
    options = out["passkey"]["publicKey"]
    assert options["rpId"] == RP_ID and options["userVerification"] == "required"
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(auth.credential_id)]
    assert out["approval_url"].startswith("https://security.wabaguard.example/v1/approve/wga_")
    mail = [m for m in api.outbox() if m["to"] == admin["email"] and "Approve with your passkey" in m["subject"]]
    assert len(mail) == 1 and out["approval_url"] in mail[0]["text"] and out["emailed"] is True
    assert "code is" not in mail[0]["text"]


def test_inline_approval_changes_once_and_keeps_a_receipt_anyone_can_verify(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    resp, ch = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK)
    assert resp.status == 200, resp.json()
    receipt_path = resp.headers.get("Approval-Receipt")
    assert receipt_path and receipt_path.startswith(f"/v1/accounts/{acme['account_id']}/approvals/chg_")
    receipt = api.call("GET", receipt_path, acme["users"][1]["token"])  # a member of the account reads it
    assert receipt.status == 200, receipt.json()
    r = receipt.json()
    assert r["request"] == {"method": "PUT", "path": _webhook(pn), "body_digest": body_digest(HOOK)}
    assert r["rp_id"] == RP_ID and r["origin"] == ORIGIN and r["challenge_id"] == ch["challenge_id"]
    expected = approval_challenge(ch["challenge_id"], "PUT", _webhook(pn), body_digest(HOOK), from_b64url(r["nonce"]))
    assert r["challenge"] == b64url(expected)
    _verify_offline(r)
    # the notice says how it was approved and where the receipt is
    api.world.pump.pump()
    notice = next(m for m in reversed(api.outbox()) if "Webhook URL" in m["subject"])
    assert "approved with a passkey" in notice["text"] and r["change_id"] in notice["text"]
    again = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=_headers(ch))
    assert again.status == 403 and again.json()["error"] == "otp_used"  # one challenge, one use


def _headers(ch: dict[str, Any]) -> dict[str, str]:
    return {"X-OTP-Challenge": ch["challenge_id"], "X-OTP-Passkey": header(ch["assertion"])}


def _verify_offline(receipt: dict[str, Any]) -> None:
    """The README's snippet: a receipt checked with py_webauthn alone, nothing of wabaguard's."""
    import base64
    import hashlib

    from webauthn import verify_authentication_response

    def unb64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    def lp(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    req = receipt["request"]
    parts = [b"wabaguard-approval-v1", receipt["challenge_id"].encode(), req["method"].encode(), req["path"].encode(),
             bytes.fromhex(req["body_digest"]), unb64(receipt["nonce"])]  # fmt: skip
    challenge = hashlib.sha256(b"".join(lp(p) for p in parts)).digest()
    verify_authentication_response(
        credential={"id": receipt["credential_id"], "rawId": receipt["credential_id"], "type": "public-key",
                    "response": {"clientDataJSON": receipt["client_data_json"],
                                 "authenticatorData": receipt["authenticator_data"],
                                 "signature": receipt["signature"]}},  # fmt: skip
        expected_challenge=challenge,
        expected_rp_id=receipt["rp_id"],
        expected_origin=receipt["origin"],
        credential_public_key=unb64(receipt["public_key"]),
        credential_current_sign_count=0,
        require_user_verification=True,
    )
