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
    reused = api.challenge(
        admin["token"], "POST", "/v1/me/passkeys", {"name": "two", "credential": second.register(opts)}
    )
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
    """What anyone can do with a receipt: the README's snippet (py_webauthn, nothing of ours)."""
    _readme_verify()(receipt)


# ---------------------------------------------------------------- refusals: like a wrong code
def _phone_url(api: Api, admin: dict[str, Any], pn: str) -> Any:
    return api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json().get("webhook_url")


def test_a_tampered_body_is_refused_and_spends_an_attempt(api: Api, admin: dict[str, Any], pn: str) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    evil = {"url": "https://evil.example.net/wa"}
    resp, ch = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK, sent_body=evil)
    assert resp.status == 403 and resp.json()["error"] == "otp_mismatch", resp.json()
    assert resp.json()["attempts_left"] == 4
    assert _phone_url(api, admin, pn) != evil["url"]
    ok = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=_headers(ch))  # the approved body still works
    assert ok.status == 200, ok.json()


def test_another_path_is_refused(api: Api, acme: dict[str, Any], admin: dict[str, Any], pn: str) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    other = f"/v1/accounts/{acme['account_id']}/security-webhook"
    resp, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK, sent_path=other)
    assert resp.status == 403 and resp.json()["error"] == "otp_mismatch", resp.json()


def test_an_assertion_for_another_challenge_is_refused(api: Api, admin: dict[str, Any], pn: str) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    first = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    second = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    signed_first = auth.sign(first["passkey"]["publicKey"])
    replay = {"X-OTP-Challenge": second["challenge_id"], "X-OTP-Passkey": header(signed_first)}
    resp = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=replay)
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid" and resp.json()["attempts_left"] == 4


def test_a_replayed_assertion_is_refused_and_from_elsewhere_it_is_an_alarm(
    api: Api, admin: dict[str, Any], pn: str
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    resp, ch = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK)
    assert resp.status == 200
    same = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=_headers(ch))
    assert same.status == 403 and same.json()["error"] == "otp_used"
    elsewhere = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=_headers(ch), ip="198.51.100.9")
    assert elsewhere.status == 403 and elsewhere.json()["error"] == "otp_used"
    warned = [m for m in api.outbox() if m["to"] == admin["email"] and "used twice" in m["subject"]]
    assert len(warned) == 1  # the replay alarm, once


def test_another_users_passkey_is_refused(api: Api, acme: dict[str, Any], admin: dict[str, Any], pn: str) -> None:
    member = acme["users"][1]
    mine, theirs = authenticator(), authenticator()
    api.register_passkey(admin, mine)
    api.register_passkey(member, theirs)
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    signed = theirs.sign({**ch["passkey"]["publicKey"]})
    resp = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=_headers({**ch, "assertion": signed}))
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid"


@pytest.mark.parametrize(
    "sign",
    [
        pytest.param({"origin": "https://security-wabaguard.example"}, id="wrong-origin"),
        pytest.param({"origin": "http://security.wabaguard.example"}, id="plain-http-origin"),
    ],
)
def test_a_signature_from_another_origin_is_refused(
    api: Api, admin: dict[str, Any], pn: str, sign: dict[str, Any]
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    resp, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK, **sign)
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()
    assert _phone_url(api, admin, pn) != HOOK["url"]


def test_no_user_verification_is_refused(api: Api, admin: dict[str, Any], pn: str) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    auth.user_verified = False  # the same key, its user not verified this time
    resp, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK)
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()


def test_garbage_in_the_passkey_header_is_refused_like_a_wrong_code(api: Api, admin: dict[str, Any], pn: str) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    for value in ("%%%", header({"id": 5}), "A" * 20000):
        resp = api.call("PUT", _webhook(pn), admin["token"], HOOK,
                        headers={"X-OTP-Challenge": ch["challenge_id"], "X-OTP-Passkey": value})  # fmt: skip
        assert resp.status == 403 and resp.json()["error"] in ("otp_invalid", "otp_locked"), resp.json()
    code = api.call("PUT", _webhook(pn), admin["token"], HOOK, otp=(ch["challenge_id"], "123456"))
    assert code.status == 403 and code.json()["error"] == "otp_invalid"  # no code answers a passkey challenge
    bare = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers={"X-OTP-Challenge": ch["challenge_id"]})
    assert bare.status == 403 and bare.json()["error"] in ("otp_required", "otp_locked")


def test_a_sign_counter_that_goes_back_is_refused_and_raises_a_high_flag(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    ok, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK)
    assert ok.status == 200
    clone, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), {"url": "https://hooks.example.net/b"}, counter=1)
    assert clone.status == 403 and clone.json()["error"] == "otp_invalid", clone.json()
    flags = world.drain_scan()
    raised = [f for f in flags if f["rule"] == "passkey_clone_suspected"]
    assert raised and raised[0]["severity"] == "high", flags


def test_parallel_uses_of_one_approval_change_exactly_once(
    api: Api, admin: dict[str, Any], pn: str
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    ch["assertion"] = auth.sign(ch["passkey"]["publicKey"])
    statuses: list[int] = []

    def send() -> None:
        statuses.append(api.call("PUT", _webhook(pn), admin["token"], HOOK, headers=_headers(ch)).status)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 403, 403, 403], statuses


# ---------------------------------------------------------------- the approval page
def _page_path(url: str) -> str:
    return "/v1/approve/" + url.rsplit("/", 1)[1]


def test_the_approval_page_asks_on_get_and_only_its_post_approves(
    api: Api, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    page_path = _page_path(ch["approval_url"])
    page = api.call("GET", page_path)
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.body.decode()
    assert "hooks.example.net/passkey" in html and "+49 30 1234567" in html  # the change in the email's words
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp and "connect-src 'self'" in csp
    data = json.loads(html.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert data["publicKey"]["challenge"] == ch["passkey"]["publicKey"]["challenge"]
    early = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers={"X-OTP-Challenge": ch["challenge_id"]})
    assert early.status == 403 and early.json()["error"] == "otp_required"  # looking approves nothing
    answer = api.call("POST", page_path, body={"credential": auth.sign(data["publicKey"])})
    assert answer.status == 200 and answer.json()["approved"] is True, answer.json()
    twice = api.call("POST", page_path, body={"credential": auth.sign(data["publicKey"])})
    assert twice.status == 409
    done = api.call("PUT", _webhook(pn), admin["token"], HOOK, headers={"X-OTP-Challenge": ch["challenge_id"]})
    assert done.status == 200, done.json()
    assert done.headers.get("Approval-Receipt")
    receipt = api.call("GET", done.headers["Approval-Receipt"], admin["token"]).json()
    _verify_offline(receipt)
    assert api.call("GET", page_path).status == 404  # spent with the challenge


def test_the_approval_page_refuses_what_the_inline_path_refuses(
    api: Api, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    member = acme["users"][1]
    auth, stranger = authenticator(), authenticator()
    api.register_passkey(admin, auth)
    api.register_passkey(member, stranger)
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    page_path = _page_path(ch["approval_url"])
    options = ch["passkey"]["publicKey"]
    tries = [
        stranger.sign(options),  # another user's passkey
        auth.sign(options, origin="https://phish.example"),  # a phishing page's origin
        auth.sign({**options, "challenge": b64url(b"\0" * 32)}),  # another challenge
    ]
    for n, credential in enumerate(tries):
        resp = api.call("POST", page_path, body={"credential": credential})
        assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()
        assert resp.json()["attempts_left"] == 4 - n
    bad = api.call("POST", page_path, body={"credential": "x"})
    assert bad.status == 400 and bad.json()["error"] == "invalid_request"
    assert api.call("GET", "/v1/approve/wga_nothing").status == 404


# ---------------------------------------------------------------- the security policy
def _policy(acme: dict[str, Any]) -> str:
    return f"/v1/accounts/{acme['account_id']}/security-policy"


def test_a_covered_action_cannot_be_approved_another_way(
    api: Api, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    member = acme["users"][1]
    auth = authenticator()
    api.register_passkey(admin, auth)
    set_it, _ = api.with_passkey(admin, auth, "PUT", _policy(acme), {"passkey_required_for": ["set_webhook_url"]})
    assert set_it.status == 200 and set_it.json()["passkey_required_for"] == ["set_webhook_url"], set_it.json()
    assert api.call("GET", _policy(acme), member["token"]).json()["passkey_required_for"] == ["set_webhook_url"]
    no_passkey = api.challenge(member["token"], "PUT", _webhook(pn), HOOK)
    assert no_passkey.status == 403 and no_passkey.json()["error"] == "passkey_required"
    by_email = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK, channel="email")
    assert by_email.status == 403 and by_email.json()["error"] == "passkey_required"
    uncovered = api.challenge(member["token"], "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "x"})
    assert uncovered.status == 201 and uncovered.json()["channel"] == "email"
    # the first passkey is registered with the factor the user has, even under "all"
    everything, _ = api.with_passkey(admin, auth, "PUT", _policy(acme), {"passkey_required_for": "all"})
    assert everything.status == 200
    api.register_passkey(member, authenticator())
    told = _account_mails(api, "Security policy of Acme Shoes changed")
    assert {u["email"] for u in acme["users"]} <= told


def test_loosening_the_policy_needs_a_passkey(api: Api, acme: dict[str, Any], admin: dict[str, Any]) -> None:
    auth = authenticator()
    api.register_passkey(admin, auth)
    tight, _ = api.with_passkey(admin, auth, "PUT", _policy(acme), {"passkey_required_for": ["add_user"]})
    assert tight.status == 200
    loosen = api.challenge(admin["token"], "PUT", _policy(acme), {"passkey_required_for": []}, channel="email")
    assert loosen.status == 403 and loosen.json()["error"] == "passkey_required"
    with_passkey, _ = api.with_passkey(admin, auth, "PUT", _policy(acme), {"passkey_required_for": []})
    assert with_passkey.status == 200 and with_passkey.json()["passkey_required_for"] == []


@pytest.mark.parametrize(
    "body",
    [{"passkey_required_for": ["make_coffee"]}, {"passkey_required_for": "some"}, {"other": 1}],
)
def test_a_policy_naming_no_key_action_is_a_400(
    api: Api, acme: dict[str, Any], admin: dict[str, Any], body: Any
) -> None:
    resp = api.challenge(admin["token"], "PUT", _policy(acme), body)
    assert resp.status == 400 and resp.json()["error"] == "invalid_request", resp.json()


def test_only_admins_set_the_policy_and_other_tenants_see_nothing(
    api: Api, demo: dict[str, Any], acme: dict[str, Any]
) -> None:
    member, other = acme["users"][1], demo["accounts"][1]["users"][0]
    body = {"passkey_required_for": "all"}
    assert api.challenge(member["token"], "PUT", _policy(acme), body).json()["error"] == "forbidden"
    assert api.call("GET", _policy(acme), other["token"]).status == 404
    partner_admin = demo["partner"]["users"][0]
    assert api.challenge(partner_admin["token"], "PUT", _policy(acme), body).status == 201


# ---------------------------------------------------------------- the way back, receipts' readers
def test_a_lost_passkey_is_replaced_with_a_recovery_code_and_everyone_is_told(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    from wabaguard.aws import pepper
    from wabaguard.models import RecoveryCodes, recovery_pk
    from wabaguard.security import new_recovery_code, recovery_digest

    lost = authenticator()
    made = api.register_passkey(admin, lost)
    code = new_recovery_code()  # as an authenticator's enrollment gave them
    RecoveryCodes(recovery_pk(admin["user_id"]), codes={recovery_digest(pepper(), admin["user_id"], code)}).save()
    # a recovery code approves only the way back, never what the passkey protects
    ch = api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()
    refused = api.call("PUT", _webhook(pn), admin["token"], HOOK, otp=(ch["challenge_id"], code))
    assert refused.status == 403 and refused.json()["error"] == "otp_invalid"
    path = f"/v1/me/passkeys/{made['passkey_id']}"
    ch = api.challenge(admin["token"], "DELETE", path).json()
    removed = api.call("DELETE", path, admin["token"], otp=(ch["challenge_id"], code))
    assert removed.status == 204, removed.json()
    assert api.call("GET", "/v1/me/passkeys", admin["token"]).json()["passkeys"] == []
    told = _account_mails(api, "Passkey removed for admin@acme.test")
    assert {u["email"] for u in acme["users"]} <= told


def test_removing_the_passkey_that_approves_its_own_removal(api: Api, admin: dict[str, Any]) -> None:
    auth = authenticator()
    made = api.register_passkey(admin, auth)
    resp, _ = api.with_passkey(admin, auth, "DELETE", f"/v1/me/passkeys/{made['passkey_id']}")
    assert resp.status == 204, resp.body
    after = api.challenge(admin["token"], "POST", "/v1/me/tokens")
    assert after.status == 201 and after.json()["channel"] == "email"  # back to the factor before it


def test_receipts_are_for_the_accounts_users_only(
    api: Api, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "k"}).json()["api_key"]
    auth = authenticator()
    api.register_passkey(admin, auth)
    resp, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK)
    path = resp.headers["Approval-Receipt"]
    assert api.call("GET", path, acme["users"][1]["token"]).status == 200  # a member
    assert api.call("GET", path, demo["partner"]["users"][0]["token"]).status == 200  # the managing Partner
    assert api.call("GET", path, demo["accounts"][1]["users"][0]["token"]).status == 404  # another tenant
    assert api.call("GET", path, key).status == 403  # an API key reads its phone number only
    missing = api.call("GET", path.rsplit("/", 1)[0] + "/chg_0000000000000000", admin["token"])
    assert missing.status == 404


def test_ops_reset_removes_a_users_passkeys_and_everyone_is_told(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    api.register_passkey(admin, authenticator(), "Old phone")
    path = f"/v1/ops/accounts/{acme['account_id']}/users/{admin['user_id']}/reset-authenticator"
    assert api.call("POST", path, admin["token"]).status == 403  # users are not ops
    reset = api.call("POST", path, world.ops_token)
    assert reset.status == 200 and reset.json()["passkeys_removed"] == 1, reset.json()
    again = api.call("POST", path, world.ops_token)
    assert again.status == 409  # nothing left to reset
    assert api.challenge(admin["token"], "PUT", _webhook(pn), HOOK).json()["channel"] == "email"
    api.world.pump.pump()
    told = [m for m in api.outbox() if 'passkey "Old phone" of admin@acme.test' in m["text"]]
    assert {m["to"] for m in told} >= {u["email"] for u in acme["users"]} and "removed by ops" in told[0]["text"]


# ---------------------------------------------------------------- the README's verifier and tools/
def _readme_verify() -> Any:
    """The README's receipt snippet, run as written."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("**Receipts.**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), scope)
    return scope["verify"]


def test_the_readme_snippet_and_the_tool_verify_a_receipt_and_refuse_a_forged_one(
    api: Api, admin: dict[str, Any], pn: str, tmp_path: Any, capsys: Any
) -> None:
    from tools import verify_receipt

    auth = authenticator()
    api.register_passkey(admin, auth)
    resp, _ = api.with_passkey(admin, auth, "PUT", _webhook(pn), HOOK)
    receipt = api.call("GET", resp.headers["Approval-Receipt"], admin["token"]).json()
    readme_verify = _readme_verify()
    readme_verify(receipt)
    forged = {**receipt, "request": {**receipt["request"], "body_digest": body_digest({"url": "https://evil.example/"})}}
    with pytest.raises(Exception, match="challenge"):
        readme_verify(forged)
    (tmp_path / "r.json").write_text(json.dumps(receipt))
    (tmp_path / "f.json").write_text(json.dumps(forged))
    (tmp_path / "body.json").write_text(json.dumps(HOOK))
    (tmp_path / "other.json").write_text(json.dumps({"url": "https://evil.example/"}))
    assert verify_receipt.main([str(tmp_path / "r.json"), "--body", str(tmp_path / "body.json")]) == 0
    assert "approved PUT " + _webhook(pn) in capsys.readouterr().out
    assert verify_receipt.main([str(tmp_path / "f.json")]) == 1
    assert verify_receipt.main([str(tmp_path / "r.json"), "--body", str(tmp_path / "other.json")]) == 1
    assert verify_receipt.main([str(tmp_path / "r.json"), "--origin", "https://phish.example"]) == 1
