"""Every row of the §OTP authorizer table, replay, binding, expiry, lockout, rate limit, TOTP,
fail-closed and the single-use race — through the gateway with real events."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pyotp
import pytest
from wabaguard import clock

from tests.integration.conftest import Api

WEBHOOK = {"url": "https://hooks.example.net/wa"}


@pytest.fixture
def webhook_path(acme: dict[str, Any]) -> str:
    return f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """A movable clock for the domain: ``frozen['now'] += 601`` travels in time. It starts 50 ms
    before the start of the current 30 s TOTP step, so the wall clock is always one step ahead of
    it: a test that mixes the two (a code from ``totp.now()``) fails every time, not once in 600."""
    state = {"now": clock.now() // 30 * 30 - 0.05}
    monkeypatch.setattr(clock, "now", lambda: state["now"])
    return state


def challenge(api: Api, user: dict[str, Any], path: str, body: Any = WEBHOOK, method: str = "PUT") -> tuple[str, str]:
    resp = api.challenge(user["token"], method, path, body)
    assert resp.status == 201, resp.json()
    return resp.json()["challenge_id"], api.last_code(user["email"])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_key_action_without_otp_headers_is_otp_required(api: Api, admin: dict[str, Any], webhook_path: str) -> None:
    resp = api.call("PUT", webhook_path, admin["token"], WEBHOOK)
    assert resp.status == 403 and resp.json()["error"] == "otp_required"
    only_challenge = api.call("PUT", webhook_path, admin["token"], WEBHOOK, headers={"X-OTP-Challenge": "ch_x"})
    assert only_challenge.json()["error"] == "otp_required"


def test_challenge_then_request_succeeds_once_a_retry_gets_the_same_answer_and_a_replay_is_reported(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], webhook_path: str
) -> None:
    ch = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert ch.status == 201
    body = ch.json()
    assert body["channel"] == "email" and body["destination"] == "a***@acme.test"
    assert body["action"] == "set_webhook_url" and 590 <= body["expires_in"] <= 600
    mail = api.outbox()[-1]
    assert mail["to"] == admin["email"]
    assert "Set the webhook URL of +49 30 1234567 to https://hooks.example.net/wa" in mail["text"]
    assert "203.0.113.7" in mail["text"] and "pytest/agent" in mail["text"]
    code = api.last_code(admin["email"])
    assert code not in ch.body.decode()

    ok = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(body["challenge_id"], code))
    assert ok.status == 200 and ok.json()["url"] == WEBHOOK["url"] and "Idempotent-Replayed" not in ok.headers
    assert ok.json()["platform"]["status"] == "pending"
    # a client retrying after a timeout: the same answer, nothing happens twice, no alarm
    again = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(body["challenge_id"], code))
    assert again.status == 200 and again.json() == ok.json() and again.headers["Idempotent-Replayed"] == "true"
    assert not [m for m in api.outbox() if "used twice" in m["subject"]]
    # the used code with another body from elsewhere is a replay: refused, recorded, the user warned
    # once (from the requester's own IP it is an honest correction: see test_seams, issue 20.15)
    other = {"url": "https://evil.example.org/x"}
    replay = api.call("PUT", webhook_path, admin["token"], other, otp=(body["challenge_id"], code), ip="198.51.100.66")
    assert replay.status == 403 and replay.json()["error"] == "otp_used"
    warnings = [m for m in api.outbox() if m["to"] == admin["email"] and "used twice" in m["subject"]]
    assert len(warnings) == 1 and code not in warnings[0]["text"]
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    assert "otp_replayed" in [e["kind"] for e in events]


def test_wrong_code_counts_down_then_the_challenge_is_dead(api: Api, admin: dict[str, Any], webhook_path: str) -> None:
    ch, code = challenge(api, admin, webhook_path)
    for left in (4, 3, 2, 1, 0):
        resp = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, wrong(code)))
        assert resp.status == 403 and resp.json()["error"] == "otp_invalid"
        assert resp.json()["attempts_left"] == left
    dead = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code))
    assert dead.status == 403 and dead.json()["error"] == "otp_locked"


@pytest.mark.parametrize("bad", ["abc", "12345", "1234567", "", "１２３４５６"])
def test_malformed_codes_are_wrong_codes(api: Api, admin: dict[str, Any], webhook_path: str, bad: str) -> None:
    ch, _ = challenge(api, admin, webhook_path)
    resp = api.call("PUT", webhook_path, admin["token"], WEBHOOK, headers={"X-OTP-Challenge": ch, "X-OTP-Code": bad})
    assert resp.status == 403 and resp.json()["error"] in ("otp_invalid", "otp_required")


def test_expired_challenge(api: Api, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]) -> None:
    ch, code = challenge(api, admin, webhook_path)
    frozen["now"] += 601
    resp = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code))
    assert resp.status == 403 and resp.json()["error"] == "otp_expired"


def test_challenge_of_another_user_is_mismatch(api: Api, acme: dict[str, Any], webhook_path: str) -> None:
    admin, member = acme["users"]
    ch, code = challenge(api, admin, webhook_path)
    resp = api.call("PUT", webhook_path, member["token"], WEBHOOK, otp=(ch, code))
    assert resp.status == 403 and resp.json()["error"] == "otp_mismatch"
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code)).status == 200


def test_challenge_for_another_route_or_method_is_mismatch(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], webhook_path: str
) -> None:
    ch, code = challenge(api, admin, webhook_path)
    profile = webhook_path.replace("/webhook", "/profile")
    resp = api.call("PATCH", profile, admin["token"], {"about": "x"}, otp=(ch, code))
    assert resp.status == 403 and resp.json()["error"] == "otp_mismatch"
    other_phone = "/v1/phone-numbers/pn_other/webhook"
    resp = api.call("PUT", other_phone, admin["token"], WEBHOOK, otp=(ch, code))
    assert resp.status == 403 and resp.json()["error"] in ("otp_mismatch",)
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code)).status == 200


def test_swapped_body_is_refused_and_nothing_changes(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], webhook_path: str
) -> None:
    ch, code = challenge(api, admin, webhook_path)
    evil = {"url": "https://evil.example.org/steal"}
    resp = api.call("PUT", webhook_path, admin["token"], evil, otp=(ch, code))
    assert resp.status == 403 and resp.json()["error"] == "otp_mismatch"
    phone = api.call("GET", webhook_path.removesuffix("/webhook"), admin["token"]).json()
    assert phone["webhook_url"] == "https://hooks.acme.test/wa"


def test_canonical_json_key_order_and_whitespace_do_not_matter(
    api: Api, admin: dict[str, Any], acme: dict[str, Any]
) -> None:
    path = f"/v1/accounts/{acme['account_id']}/templates"
    body = {
        "name": "summer_sale",
        "language": "en",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Hi {{1}}"}],
    }
    ch, code = challenge(api, admin, path, body, "POST")
    raw = (
        b'{ "components" : [ {"text":"Hi {{1}}","type":"BODY"} ],\n'
        b' "category":"MARKETING","language":"en","name":"summer_sale"}'
    )
    resp = api.call("POST", path, admin["token"], raw=raw, otp=(ch, code))
    assert resp.status == 201 and resp.json()["status"] == "PENDING"


def test_ten_wrong_codes_in_a_row_lock_the_user_for_thirty_minutes(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    errors = []
    for _ in range(2):
        ch, code = challenge(api, admin, webhook_path)
        for _ in range(5):
            errors.append(api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, wrong(code))).json()["error"])
    assert errors[-1] == "otp_locked" and errors[:9] == ["otp_invalid"] * 9
    lock_mails = [m for m in api.outbox() if m["to"] == admin["email"] and "locked" in m["subject"]]
    assert len(lock_mails) == 1
    # Locked: a fresh challenge cannot even be issued, and an old valid one is refused.
    refused = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert refused.status == 403 and refused.json()["error"] == "otp_locked"
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("otp_failed") == 10 and kinds.count("otp_locked") == 1
    frozen["now"] += 1801
    ch, code = challenge(api, admin, webhook_path)
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code)).status == 200


def test_a_success_resets_the_consecutive_failure_count(
    api: Api, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    for _ in range(3):
        ch, code = challenge(api, admin, webhook_path)
        for _ in range(4):
            api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, wrong(code)))
        assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code)).status == 200
        frozen["now"] += 300  # stay inside the challenge rate limit
    assert not [m for m in api.outbox() if "locked" in m["subject"]]


def test_rate_limit_with_retry_after_and_refused_requests_do_not_count(
    api: Api, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    bad = api.challenge(admin["token"], "PUT", webhook_path, {"url": "http://insecure.example"})
    assert bad.status == 400
    for _ in range(5):
        assert api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).status == 201
        frozen["now"] += 10
    limited = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert limited.status == 429 and limited.json()["error"] == "rate_limited"
    retry = int(limited.headers["Retry-After"])
    assert 850 <= retry <= 901
    frozen["now"] += retry
    assert api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).status == 201


def test_resend_sends_the_same_code_once_a_minute(
    api: Api, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    ch, code = challenge(api, admin, webhook_path)
    api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, wrong(code)))
    early = api.call("POST", f"/v1/otp/challenges/{ch}/resend", admin["token"])
    assert early.status == 429 and int(early.headers["Retry-After"]) >= 1
    frozen["now"] += 61
    resent = api.call("POST", f"/v1/otp/challenges/{ch}/resend", admin["token"])
    assert resent.status == 200
    assert api.last_code(admin["email"]) == code
    assert resent.json()["expires_in"] <= 600 - 61
    resp = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, wrong(code)))
    assert resp.json()["attempts_left"] == 3  # attempts were not reset


def test_resend_of_someone_elses_challenge_is_not_found(api: Api, acme: dict[str, Any], webhook_path: str) -> None:
    ch, _ = challenge(api, acme["users"][0], webhook_path)
    resp = api.call("POST", f"/v1/otp/challenges/{ch}/resend", acme["users"][1]["token"])
    assert resp.status == 404 and resp.json()["error"] == "not_found"


def test_fifty_threads_racing_one_valid_code_act_exactly_once(
    api: Api, admin: dict[str, Any], acme: dict[str, Any], webhook_path: str
) -> None:
    """The challenge is consumed in the transaction that makes the change: one use acts; the
    others — the same user, code and body, i.e. retries — get its answer, marked replayed."""
    ch, code = challenge(api, admin, webhook_path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(
            pool.map(lambda _: api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code)), range(50))
        )
    acted = [r for r in results if r.status == 200 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in results if r.status == 200 and r.headers.get("Idempotent-Replayed") == "true"]
    assert len(acted) == 1
    others = [(r.status, r.body[:200]) for r in results if r.status != 200]
    assert len(replayed) + len([r for r in results if r.status == 503]) == 49, others
    assert all(r.json() == acted[0].json() and r.json()["url"] == WEBHOOK["url"] for r in acted + replayed)
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()["events"]
    assert [e["action"] for e in events if e["kind"] == "key_action"] == ["set_webhook_url"]
    assert "otp_replayed" not in [e["kind"] for e in events]


def test_authorizer_fails_closed_when_dynamodb_fails(
    api: Api, admin: dict[str, Any], webhook_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError
    from wabaguard.otp import checks as otp

    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchGetItem"
        )

    monkeypatch.setattr(otp, "fetch", throttled)
    for method, path, body in (("GET", "/v1/me", None), ("PUT", webhook_path, WEBHOOK)):
        resp = api.call(method, path, admin["token"], body, otp=("ch_x", "123456"))
        assert resp.status == 503
        assert resp.json()["error"] == "temporarily_unavailable"
        assert "Traceback" not in resp.body.decode()


def test_consume_fails_closed_when_the_update_fails(
    api: Api, admin: dict[str, Any], webhook_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    ch, code = challenge(api, admin, webhook_path)

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        cause = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "TransactWriteItems")
        raise TransactWriteError("Failed to write transaction items", cause)

    monkeypatch.setattr(TransactWrite, "_commit", broken)
    resp = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code))
    assert resp.status == 503
    monkeypatch.undo()
    phone = api.call("GET", webhook_path.removesuffix("/webhook"), admin["token"]).json()
    assert phone["webhook_url"] == "https://hooks.acme.test/wa"
    # nothing was spent: the change and the challenge's consumption fail together
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, code)).status == 200


def test_ses_failure_answers_503_and_leaves_no_usable_challenge(
    api: Api, admin: dict[str, Any], webhook_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.notices import mailer

    def down(*_: Any) -> str:
        raise mailer.MailError("SES down")

    monkeypatch.setattr(mailer, "send", down)
    resp = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert resp.status == 503 and resp.json()["error"] == "temporarily_unavailable"
    assert resp.headers["Retry-After"]
    monkeypatch.undo()
    import boto3
    from wabaguard.config import settings

    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=settings().challenges_table)["Items"]
    assert not [i for i in items if i["item_type"]["S"] == "challenge"]
    # and the failed attempt did not use up the rate limit
    for _ in range(5):
        assert api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).status == 201


def test_an_email_challenge_is_written_once_with_its_code_emails_id(
    api: Api, admin: dict[str, Any], webhook_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code goes out before the challenge is stored, so the challenge is one write (issue 26):
    no update after it, and the item names the email whose delivery its answer shows."""
    from wabaguard.models import Challenge, challenge_pk

    updates: list[Any] = []
    real = Challenge.update

    def counted(self: Challenge, *args: Any, **kwargs: Any) -> Any:
        updates.append(kwargs.get("actions"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Challenge, "update", counted)
    resp = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert resp.status == 201 and updates == []
    stored = Challenge.get(challenge_pk(resp.json()["challenge_id"]), consistent_read=True)
    assert stored.mail_message_id and stored.mail_message_id in {m["id"] for m in api.outbox()}
    status = api.call("GET", f"/v1/otp/challenges/{stored.challenge_id}", admin["token"])
    assert status.status == 200 and status.json()["delivery"] in ("sent", "delivered")


def _enroll_totp(api: Api, user: dict[str, Any]) -> pyotp.TOTP:
    resp = api.approved(user, "POST", "/v1/me/totp")
    assert resp.status == 201
    totp = pyotp.TOTP(pyotp.parse_uri(resp.json()["otpauth_uri"]).secret)
    # the domain's clock, not the wall clock: under ``frozen`` the two differ, and a code from the
    # wall clock's next step would be spent here and refused later in the test
    confirm = api.call("POST", "/v1/me/totp/confirm", user["token"], {"code": totp.at(clock.now())})
    assert confirm.status == 200 and confirm.json()["totp_enabled"] is True
    assert len(confirm.json()["recovery_codes"]) == 10
    return totp


def test_totp_users_get_channel_totp_and_a_step_is_never_accepted_twice(
    api: Api, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    totp = _enroll_totp(api, admin)
    frozen["now"] += 30
    mails_before = len(api.outbox())
    ch = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert ch.status == 201 and ch.json()["channel"] == "totp"
    assert len(api.outbox()) == mails_before  # no email for TOTP
    code = totp.at(frozen["now"])
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch.json()["challenge_id"], code)).status == 200
    ch2 = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).json()["challenge_id"]
    reuse = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch2, code))
    assert reuse.status == 403 and reuse.json()["error"] == "otp_invalid"
    frozen["now"] += 30
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch2, totp.at(frozen["now"]))).status == 200


def test_totp_accepts_one_step_of_drift_but_not_two(
    api: Api, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    totp = _enroll_totp(api, admin)
    frozen["now"] += 120
    ch = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).json()["challenge_id"]
    assert (
        api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, totp.at(frozen["now"] - 60))).json()["error"]
        == "otp_invalid"
    )
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, totp.at(frozen["now"] - 30))).status == 200


def test_totp_users_cannot_fall_back_to_email(api: Api, admin: dict[str, Any], webhook_path: str) -> None:
    """Review item 7: a stolen mailbox must not beat the authenticator."""
    _enroll_totp(api, admin)
    mails = len(api.outbox())
    resp = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK, channel="email")
    assert resp.status == 400 and resp.json()["field"] == "channel"
    assert len(api.outbox()) == mails, "no code went to the mailbox"
    # re-enrolling the authenticator needs the current one (its challenge is answered by the app)
    again = api.challenge(admin["token"], "POST", "/v1/me/totp")
    assert again.status == 201 and again.json()["channel"] == "totp"


def test_totp_channel_without_an_app_is_400(api: Api, admin: dict[str, Any], webhook_path: str) -> None:
    resp = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK, channel="totp")
    assert resp.status == 400 and resp.json()["field"] == "channel"


def test_a_lost_device_is_recovered_with_single_use_recovery_codes(
    api: Api, world: Any, admin: dict[str, Any], webhook_path: str, frozen: dict[str, float]
) -> None:
    """Review item 7: recovery codes shown once at enrollment, stored as digests, each works once."""
    resp = api.approved(admin, "POST", "/v1/me/totp")
    totp = pyotp.TOTP(pyotp.parse_uri(resp.json()["otpauth_uri"]).secret)
    confirm = api.call("POST", "/v1/me/totp/confirm", admin["token"], {"code": totp.at(clock.now())}).json()
    codes = confirm["recovery_codes"]
    assert len(set(codes)) == 10
    from wabaguard.models import RecoveryCodes, recovery_pk

    stored = RecoveryCodes.get(recovery_pk(admin["user_id"])).codes
    assert len(stored) == 10 and not set(codes) & set(stored)
    frozen["now"] += 30
    ch = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).json()["challenge_id"]
    ok = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch, codes[0].upper()))
    assert ok.status == 200, ok.json()
    ch2 = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK).json()["challenge_id"]
    again = api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch2, codes[0]))
    assert again.status == 403 and again.json()["error"] == "otp_invalid"
    assert api.call("PUT", webhook_path, admin["token"], WEBHOOK, otp=(ch2, codes[1])).status == 200
    used = [m for m in api.outbox() if m["subject"] == "A recovery code of yours was used"]
    assert len(used) == 2 and "8 unused codes remain" in used[-1]["text"]
    for mail in api.outbox():
        assert not any(c in mail["text"] for c in codes)


def _acc(api: Api, user: dict[str, Any]) -> str:
    return str(api.call("GET", "/v1/me", user["token"]).json()["account"]["account_id"])


def test_ops_reset_the_authenticator_and_everyone_is_told(
    api: Api, world: Any, admin: dict[str, Any], webhook_path: str
) -> None:
    _enroll_totp(api, admin)
    acc = _acc(api, admin)
    path = f"/v1/ops/accounts/{acc}/users/{admin['user_id']}/reset-authenticator"
    assert api.call("POST", path, admin["token"]).status == 403  # users are not ops
    reset = api.call("POST", path, world.ops_token)
    assert reset.status == 200 and reset.json()["totp_enabled"] is False
    resp = api.challenge(admin["token"], "PUT", webhook_path, WEBHOOK)
    assert resp.status == 201 and resp.json()["channel"] == "email"
    world.pump.pump()
    assert [m for m in api.outbox() if "reset the authenticator app" in m["text"]]
