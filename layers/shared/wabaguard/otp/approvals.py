"""An approved key action happens exactly once, and honest mistakes do not spend its code (§API).

The authorizer only checks the code (``otp.verify``). The handler consumes the challenge here, in
the same DynamoDB transaction as the action's own writes and its audit record, on condition that
it is unused, unexpired, the caller's, and approved *this* body — so "challenge spent but action
failed" and "action done twice" cannot happen, and of N parallel uses exactly one acts.

- A body other than the approved one spends nothing (it counts as an attempt): the approved body
  may still follow. Invalid JSON never gets this far (400).
- The same user repeating a request that succeeded, with the same code and body, within 10
  minutes gets the stored answer again (``Idempotent-Replayed: true``); answers that carry a
  one-time secret are stored KMS-encrypted. Any other use of a used challenge is a replay alarm.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from wabaguard import activity
from wabaguard.activity import RequestMeta
from wabaguard.aws import kms_decrypt, kms_encrypt
from wabaguard.config import settings
from wabaguard.errors import OtpDenied
from wabaguard.models import Challenge, RecoveryCodes, challenge_pk, condition_failed, recovery_pk
from wabaguard.otp import checks as otp
from wabaguard.otp import totp
from wabaguard.people.principal import Principal
from wabaguard.security import body_digest, same_digest

SECRET_FIELDS = frozenset({"api_key", "token", "otpauth_uri", "recovery_codes", "secret"})
REPLAYED = {"Idempotent-Replayed": "true"}


def _context(challenge_id: str) -> dict[str, str]:
    return {"challenge_id": challenge_id, "purpose": "answer"}


def same_body(approval: otp.Approval, body: Any) -> bool:
    return same_digest(approval.body_sha256, body_digest(body))


def other_body(approval: otp.Approval, principal: Principal, meta: RequestMeta, t: float) -> OtpDenied:
    """The body differs from the approved one. After a success that is a replay alarm (the code or
    request was intercepted); before, an honest mistake: an attempt is counted, nothing is spent."""
    ch = Challenge.get(challenge_pk(approval.challenge_id), consistent_read=True)
    if approval.replay or ch.used_at:
        if corrected_after_success(ch, principal, meta, t):
            return reused(principal, ch, meta, t)
        return otp.replayed(principal, ch, meta, t)
    cfg = settings()
    try:
        ch.update(
            actions=[Challenge.attempts.add(1)],
            condition=(Challenge.attempts < cfg.otp_max_attempts) & Challenge.used_at.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return OtpDenied("otp_locked", "too many attempts for this challenge; request a new one")
    left = max(0, cfg.otp_max_attempts - int(ch.attempts))
    if left == 0:
        return OtpDenied("otp_locked", "the body differs from the approved one too often; request a new challenge")
    return OtpDenied(
        "otp_mismatch",
        "the body differs from the one the code approved; nothing was changed, and the code still works "
        "for exactly the approved body",
        attempts_left=left,
    )


def corrected_after_success(ch: Challenge, principal: Principal, meta: RequestMeta, t: float) -> bool:
    """An honest correction, not an interception: the user the challenge was issued to, from the
    IP that asked for it, within its lifetime, sends another body after the approved one succeeded
    (the authorizer already checked it is the very code of the challenge)."""
    return (
        ch.user_id == principal.user_id
        and bool(ch.requester_ip)
        and ch.requester_ip == meta.ip
        and t < int(ch.expires_at)
    )


def reused(principal: Principal, ch: Challenge, meta: RequestMeta, t: float) -> OtpDenied:
    """Recorded (``otp_reused``, not a replay alarm: no warning mail, no flag), and told what to do."""
    activity.record(
        principal.account_id,
        "otp_reused",
        meta,
        at=datetime.fromtimestamp(t, tz=UTC),
        user_id=principal.user_id,
        detail=f"challenge {ch.challenge_id} for {ch.method} {ch.path}, used again for another body",
    )
    return OtpDenied(
        "otp_used",
        "this challenge already approved one request, which succeeded; a challenge approves one request only. "
        "For the corrected request, ask for a new challenge (POST /v1/otp/challenges) with its body",
    )


def consume_into(
    tx: TransactWrite,
    approval: otp.Approval,
    principal: Principal,
    t: float,
    status: int,
    answer: Any,
    secret: bool = False,
) -> None:
    """Add the challenge's consumption (and the TOTP step or recovery code it spends) to ``tx``.
    The answer is kept for the same user's retry, KMS-encrypted when the action declares a secret
    in it — or when it carries a field that is one anyway (fail closed)."""
    text = json.dumps({"status": status, "body": answer})
    secret = secret or (isinstance(answer, dict) and bool(SECRET_FIELDS & set(answer)))
    stored = (
        [Challenge.answer_enc.set(kms_encrypt(text, _context(approval.challenge_id)))]
        if secret
        else [Challenge.answer.set(text)]
    )
    tx.update(
        Challenge(challenge_pk(approval.challenge_id)),
        actions=[Challenge.used_at.set(int(t)), Challenge.used_code_digest.set(approval.used_code_digest), *stored],
        condition=Challenge.used_at.does_not_exist()
        & (Challenge.attempts < settings().otp_max_attempts)
        & (Challenge.expires_at > int(t))
        & (Challenge.user_id == (principal.user_id or ""))
        & (Challenge.action == approval.action)
        & (Challenge.body_sha256 == approval.body_sha256),
    )
    user_id = principal.user_id or ""
    if approval.totp_step is not None:
        state, update = totp.spend(user_id, approval.totp_step)
        tx.update(state, **update)
    if approval.recovery_digest:
        tx.update(
            RecoveryCodes(recovery_pk(user_id)),
            actions=[RecoveryCodes.codes.delete({approval.recovery_digest})],
            condition=RecoveryCodes.codes.contains(approval.recovery_digest),
        )


def stored_answer(approval: otp.Approval, principal: Principal) -> tuple[int, Any]:
    """The answer a consumed challenge gave, for the same user's retry."""
    ch = Challenge.get(challenge_pk(approval.challenge_id), consistent_read=True)
    if ch.user_id != principal.user_id or not (ch.answer or ch.answer_enc):
        raise OtpDenied("otp_used", "this challenge was already used; request a new one")
    text = kms_decrypt(ch.answer_enc, _context(ch.challenge_id)) if ch.answer_enc else str(ch.answer)
    data = json.loads(text)
    return int(data["status"]), data["body"]


def settle(
    approval: otp.Approval, principal: Principal, meta: RequestMeta, t: float
) -> OtpDenied | tuple[int, Any] | None:
    """Why the transaction's condition failed, when it was the approval's: a parallel use won (the
    same user's retry gets its answer; anyone else is a replay), the challenge expired or died, or
    the TOTP step / recovery code was spent meanwhile. None: it was the action's own condition."""
    ch = Challenge.get(challenge_pk(approval.challenge_id), consistent_read=True)
    if ch.used_at:
        same = ch.user_id == principal.user_id and same_digest(ch.used_code_digest, approval.used_code_digest)
        if same and approval.passkey_id:  # a passkey's approval is used once, even by the same client
            return OtpDenied("otp_used", "this challenge approved one request already; ask for a new challenge")
        if same:
            return stored_answer(approval, principal)
        return otp.replayed(principal, ch, meta, t)
    if ch.expires_at <= t:
        return OtpDenied("otp_expired", "this challenge has expired; request a new one")
    if ch.attempts >= settings().otp_max_attempts:
        return OtpDenied("otp_locked", "too many wrong codes for this challenge; request a new one")
    if approval.totp_step is not None and approval.totp_step <= totp.last_step(principal.user_id or ""):
        return OtpDenied("otp_invalid", "that authenticator code was used already; wait for the next one")
    if approval.recovery_digest and not otp.recovery_left(principal.user_id or "", approval.recovery_digest):
        return OtpDenied("otp_invalid", "that recovery code was used already")
    return None
