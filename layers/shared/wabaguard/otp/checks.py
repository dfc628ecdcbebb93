"""Checking an answer to a challenge (§OTP), for the authorizer: the code, the TOTP step or the
recovery code, without consuming the challenge (the API consumes it with the change).

Invariants are settled by DynamoDB conditions, not by reading first and writing after: wrong codes
are counted with atomic ``ADD``, a lockout is one conditional update, and a used challenge coming
back is told apart — the same user's retry, or a replay — by what it presents.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from wabaguard import activity, clock
from wabaguard.activity import RequestMeta
from wabaguard.aws import client, kms_decrypt, pepper
from wabaguard.clock import for_people
from wabaguard.config import settings
from wabaguard.errors import OtpDenied
from wabaguard.models import (
    Challenge,
    Credential,
    FailureWindow,
    RecoveryCodes,
    User,
    account_pk,
    challenge_pk,
    condition_failed,
    failure_window_pk,
    iso,
    recovery_pk,
    user_sk,
)
from wabaguard.otp import totp
from wabaguard.otp.emails import WHY, _footer, _mailer, lockout_email, replay_email
from wabaguard.passkeys import assertions
from wabaguard.people.principal import Principal, change_by
from wabaguard.security import (
    code_digest,
    looks_like_code,
    looks_like_recovery_code,
    recovery_digest,
    same_digest,
)


def _now(now: float | None) -> float:
    return clock.now() if now is None else now


# ====================================================================== verifying
IDEMPOTENT_SECONDS = 600  # the same user repeating a request that succeeded gets its answer again


@dataclass(frozen=True)
class Approval:
    """What the authorizer passes on: a challenge whose code checked out, not yet consumed.

    The handler consumes it in the transaction that makes the change, and only for the approved
    body: a different body spends nothing (an honest typo may be followed by the right request).
    ``replay``: the challenge was consumed already by this user with this very code, less than 10
    minutes ago — a client retrying; the handler answers as the first time if the body is the same.
    """

    challenge_id: str
    action: str
    body_sha256: str
    used_code_digest: str
    totp_step: int | None = None
    recovery_digest: str | None = None
    replay: bool = False
    # A passkey's approval (§Passkeys): which passkey, the sign counter it showed (stored in the
    # consuming transaction, conditioned on the old one), and — inline — the X-OTP-Passkey header
    # the handler reads again for the receipt (its digest is ``used_code_digest``).
    passkey_id: str | None = None
    passkey_sign_count: int | None = None
    inline_assertion: str | None = None

    @property
    def factor(self) -> str:
        """How it was approved: passkey | recovery_code | totp | code (the notices say it)."""
        if self.passkey_id:
            return "passkey"
        if self.recovery_digest:
            return "recovery_code"
        return "totp" if self.totp_step is not None else "code"

    def context(self) -> dict[str, str]:
        """Authorizer context: strings only."""
        out = {
            "otp_challenge_id": self.challenge_id,
            "otp_action": self.action,
            "otp_body_sha256": self.body_sha256,
            "otp_code_digest": self.used_code_digest,
        }
        if self.totp_step is not None:
            out["otp_totp_step"] = str(self.totp_step)
        if self.recovery_digest:
            out["otp_recovery_digest"] = self.recovery_digest
        if self.replay:
            out["otp_replay"] = "1"
        if self.passkey_id:
            out["otp_passkey_id"] = self.passkey_id
            out["otp_passkey_sign_count"] = str(self.passkey_sign_count or 0)
            out["otp_passkey_inline"] = "1" if self.inline_assertion is not None else "0"
        return out

    @classmethod
    def from_context(cls, ctx: dict[str, Any]) -> Approval | None:
        if not ctx.get("otp_challenge_id") or not ctx.get("otp_body_sha256") or not ctx.get("otp_code_digest"):
            return None
        step = ctx.get("otp_totp_step")
        return cls(
            challenge_id=str(ctx["otp_challenge_id"]),
            action=str(ctx.get("otp_action") or ""),
            body_sha256=str(ctx["otp_body_sha256"]),
            used_code_digest=str(ctx["otp_code_digest"]),
            totp_step=int(str(step)) if step not in (None, "") else None,
            recovery_digest=str(ctx["otp_recovery_digest"]) if ctx.get("otp_recovery_digest") else None,
            replay=str(ctx.get("otp_replay") or "") == "1",
            passkey_id=str(ctx["otp_passkey_id"]) if ctx.get("otp_passkey_id") else None,
            passkey_sign_count=int(str(ctx.get("otp_passkey_sign_count") or 0)) if ctx.get("otp_passkey_id") else None,
            # inline: the handler fills in the header's text (checked against the digest) for the receipt
            inline_assertion="" if str(ctx.get("otp_passkey_inline") or "") == "1" else None,
        )


def fetch(token_digest: str, challenge_id: str | None) -> tuple[Credential | None, Challenge | None]:
    """The credential and (optionally) the challenge in one BatchGetItem, strongly consistent."""
    cfg = settings()
    request: dict[str, Any] = {
        cfg.credentials_table: {"Keys": [{"token_digest": {"S": token_digest}}], "ConsistentRead": True}
    }
    if challenge_id:
        request[cfg.challenges_table] = {
            "Keys": [{"pk": {"S": challenge_pk(challenge_id)}}],
            "ConsistentRead": True,
        }
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(4):
        out = client("dynamodb").batch_get_item(RequestItems=request, ReturnConsumedCapacity="TOTAL")
        for table, items in out.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = out.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise RuntimeError("DynamoDB left keys unprocessed; failing closed")
    creds = found.get(cfg.credentials_table, [])
    chs = found.get(cfg.challenges_table, [])
    cred = Credential.from_raw_data(creds[0]) if creds else None
    ch = None
    if chs and chs[0].get("item_type", {}).get("S") == "challenge":
        ch = Challenge.from_raw_data(chs[0])
    return cred, ch


def accepted(cred: Credential | None, action: str | None, challenge_id: str, now: float | None = None) -> bool:
    """Whether a credential may be used for this request: an active one; or a token that
    ``rotate_token`` replaced, for its owner's retry of that very rotation (same challenge) within
    10 minutes — the retry gets the stored answer, the new token, again. Anything else: 401."""
    if cred is None:
        return False
    if cred.status == "active":
        return True
    t = _now(now)
    return (
        cred.status == "revoked"
        and action == "rotate_token"
        and bool(cred.rotated_by_challenge and challenge_id)
        and hmac.compare_digest(str(cred.rotated_by_challenge), challenge_id)
        and cred.rotated_at is not None
        and 0 <= t - float(cred.rotated_at) <= IDEMPOTENT_SECONDS
    )


def presented_digest(challenge_id: str, code: str) -> str | None:
    """HMAC of the code a request presents (any channel); None for a code too long to be one."""
    if not code or len(code) > 64:
        return None
    return code_digest(pepper(), challenge_id, code)


def verify(
    cred: Credential,
    ch: Challenge | None,
    code: str,
    method: str,
    path: str,
    meta: RequestMeta,
    now: float | None = None,
    passkey: str = "",
) -> Approval:
    """Check ``code`` (or the ``passkey`` assertion, the X-OTP-Passkey header) against ``ch`` for
    this user's request (not consuming it: the handler does, with the change), or raise OtpDenied
    with the §OTP reason."""
    t = _now(now)
    cfg = settings()
    if cred.otp_locked_until and cred.otp_locked_until > t:
        raise OtpDenied("otp_locked", f"OTP is locked until {iso(cred.otp_locked_until)} after repeated wrong codes")
    if ch is None:
        _aggregated_failure(cred, meta, t, "unknown challenge id")
        raise OtpDenied(
            "otp_invalid",
            "no such challenge (unknown, garbled, or expired and removed): request a new one with "
            "POST /v1/otp/challenges",
        )
    if ch.user_id != cred.user_id:
        _aggregated_failure(cred, meta, t, "challenge of another user")
        raise OtpDenied("otp_mismatch", "this challenge was not issued to you")
    if ch.channel == "passkey":
        return _passkey(cred, ch, code, passkey, method, path, meta, t)
    presented = presented_digest(ch.challenge_id, code)
    if ch.used_at:
        honest_retry = (
            ch.method == method
            and ch.path == path
            and t - ch.used_at <= IDEMPOTENT_SECONDS
            and same_digest(ch.used_code_digest, presented)
        )
        if not honest_retry:
            raise replayed(cred, ch, meta, t)
        return Approval(ch.challenge_id, ch.action, ch.body_sha256, presented or "", replay=True)
    if ch.method != method or ch.path != path:
        _aggregated_failure(cred, meta, t, f"challenge for {ch.method} {ch.path} used on {method} {path}")
        raise OtpDenied("otp_mismatch", f"this challenge approves {ch.method} {ch.path} only")
    if ch.expires_at <= t:
        raise OtpDenied("otp_expired", "this challenge has expired; request a new one")
    if ch.attempts >= cfg.otp_max_attempts:
        raise OtpDenied("otp_locked", "too many wrong codes for this challenge; request a new one")

    step: int | None = None
    recovery: str | None = None
    if ch.channel == "totp" and looks_like_recovery_code(code):
        recovery = recovery_digest(pepper(), cred.user_id or "", code)
        if not recovery_left(cred.user_id or "", recovery):
            raise _wrong_code(cred, ch, meta, t, "unknown or used recovery code")
    elif ch.channel == "totp":
        step = _totp_step(cred, code, t)
        if step is None:
            raise _wrong_code(cred, ch, meta, t)
        if step <= totp.last_step(cred.user_id or ""):
            raise _wrong_code(cred, ch, meta, t, "authenticator code already used")
    elif not (looks_like_code(code) and same_digest(ch.code_digest, presented)):
        raise _wrong_code(cred, ch, meta, t)

    _clear_failures(cred)
    return Approval(ch.challenge_id, ch.action, ch.body_sha256, presented or "", step, recovery)


# Key actions a recovery code may approve in a passkey challenge: the way back for a user who lost
# the passkey (register another, remove the lost one) — never anything the passkey protects.
PASSKEY_RECOVERY_ACTIONS = frozenset({"register_passkey", "remove_passkey"})


def _passkey(
    cred: Credential, ch: Challenge, code: str, header: str, method: str, path: str, meta: RequestMeta, t: float
) -> Approval:
    """A passkey challenge's answer: an assertion inline (X-OTP-Passkey), the approval page's
    (X-OTP-Challenge alone), or — for the way back only — a recovery code. One use: a used passkey
    challenge is refused even to the same client, and anything else spends an attempt."""
    cfg = settings()
    presented = assertions.assertion_digest(header) if header else ""
    if ch.used_at:
        if same_user_again(ch, cred, meta, t):
            raise OtpDenied("otp_used", "this challenge approved one request already; ask for a new challenge")
        raise replayed(cred, ch, meta, t)
    if ch.method != method or ch.path != path:
        spend_attempt(ch)
        _failure_event(cred, meta, t, f"passkey challenge for {ch.method} {ch.path} used on {method} {path}")
        raise OtpDenied("otp_mismatch", f"this challenge approves {ch.method} {ch.path} only")
    if ch.expires_at <= t:
        raise OtpDenied("otp_expired", "this challenge has expired; request a new one")
    if ch.attempts >= cfg.otp_max_attempts:
        raise OtpDenied("otp_locked", "too many failed approvals for this challenge; request a new one")
    if header:
        try:
            text = assertions.decode_header(header)
            checked = assertions.check(
                ch.account_id, ch.user_id, ch.challenge_id, ch.passkey_nonce or "", method, path, ch.body_sha256, text
            )
        except assertions.Refused as refused:
            if refused.clone:
                assertions.clone_suspected(
                    cred.account_id, cred.user_id or "", refused.detail, meta, datetime.fromtimestamp(t, UTC)
                )
            raise _wrong_code(cred, ch, meta, t, f"passkey: {refused.detail}") from None
        _clear_failures(cred)
        return Approval(
            ch.challenge_id, ch.action, ch.body_sha256, presented, passkey_id=checked.passkey.passkey_id,
            passkey_sign_count=checked.sign_count, inline_assertion=text,
        )  # fmt: skip
    if code:
        if ch.action in PASSKEY_RECOVERY_ACTIONS and looks_like_recovery_code(code):
            recovery = recovery_digest(pepper(), cred.user_id or "", code)
            if recovery_left(cred.user_id or "", recovery):
                _clear_failures(cred)
                return Approval(ch.challenge_id, ch.action, ch.body_sha256, recovery, recovery_digest=recovery)
            raise _wrong_code(cred, ch, meta, t, "unknown or used recovery code")
        raise _wrong_code(cred, ch, meta, t, "a code was sent for a passkey challenge")
    if ch.passkey_verified_at and ch.passkey_assertion and ch.passkey_id:
        return Approval(
            ch.challenge_id, ch.action, ch.body_sha256, assertions.assertion_digest(ch.passkey_assertion),
            passkey_id=ch.passkey_id, passkey_sign_count=int(ch.passkey_sign_count or 0),
        )  # fmt: skip
    raise OtpDenied(
        "otp_required",
        "this challenge is approved with your passkey: send X-OTP-Passkey with the assertion, or approve it "
        "on its approval page first and then send X-OTP-Challenge alone",
    )


def same_user_again(ch: Challenge, cred: Credential | Principal, meta: RequestMeta, t: float) -> bool:
    """The challenge's own user, from the IP that asked for it, within its lifetime: a client
    retrying (refused, not an alarm)."""
    return ch.user_id == cred.user_id and bool(ch.requester_ip) and ch.requester_ip == meta.ip and t < ch.expires_at


def _clear_failures(cred: Credential) -> None:
    if cred.otp_failures:
        cred.update(actions=[Credential.otp_failures.set(0)])


def spend_attempt(ch: Challenge) -> int | None:
    """One more failed answer on the challenge (atomic ADD, never past the limit): the attempts
    left, or None when the challenge is dead (or was used meanwhile)."""
    try:
        ch.update(
            actions=[Challenge.attempts.add(1)],
            condition=(Challenge.attempts < settings().otp_max_attempts) & Challenge.used_at.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return None
    return max(0, settings().otp_max_attempts - int(ch.attempts))


def _about(kind: str, account_id: str, user_id: str | None) -> Any:
    """What a security email of the authorizer is, for its delivery (§Mail delivery)."""
    return _mailer().sent.About(kind, account_id=account_id, user_id=user_id)


def recovery_left(user_id: str, digest: str) -> bool:
    """Whether ``digest`` is one of the user's unused recovery codes."""
    try:
        item = RecoveryCodes.get(recovery_pk(user_id), consistent_read=True)
    except RecoveryCodes.DoesNotExist:
        return False
    return digest in (item.codes or set())


def recovery_code_used(principal: Principal, meta: RequestMeta, now: datetime) -> None:
    """A recovery code stood in for the authenticator: audit it and tell the user at once (if it
    was not them, the codes are stolen: they must re-enroll, which needs a code too, or call ops)."""
    user_id = principal.user_id or ""
    try:
        left = len(RecoveryCodes.get(recovery_pk(user_id), consistent_read=True).codes or ())
    except RecoveryCodes.DoesNotExist:
        left = 0
    activity.record(principal.account_id, "key_action", meta, at=now, user_id=user_id, action="recovery_code_used")
    if not principal.email:
        return
    mail = _mailer().render(
        principal.email,
        "A recovery code of yours was used",
        [
            f"One of your wabaguard recovery codes was used instead of your authenticator app, {for_people(now)}. "
            f"{left} unused code{'s' if left != 1 else ''} remain{'s' if left == 1 else ''}.",
            "If this was you, set up the authenticator app on your new device and keep the new recovery codes "
            "safe. If it was not you, your recovery codes are known to someone else: tell your admin and write "
            "to support now.",
        ],
        [("From IP", meta.ip or "unknown"), ("User agent", meta.user_agent or "unknown")],
        _footer(),
        integrators=["Enroll a new authenticator: POST /v1/me/totp (needs a one-time password)."],
        why=WHY,
    )
    try:
        _mailer().send(mail, _about("recovery_code", principal.account_id, user_id))
    except _mailer().MailError:
        pass  # audited above; the action itself stands


def _totp_step(cred: Credential, code: str, t: float) -> int | None:
    if not looks_like_code(code):
        return None
    user = User.get(account_pk(cred.account_id), user_sk(cred.user_id or ""))
    if not user.totp_secret_enc:
        return None
    secret = kms_decrypt(user.totp_secret_enc, {"user_id": user.user_id, "purpose": "totp"})
    return totp.matching_step(secret, code, datetime.fromtimestamp(t, tz=UTC))


def _failure_event(cred: Credential, meta: RequestMeta, t: float, detail: str) -> None:
    activity.record(
        cred.account_id, "otp_failed", meta, at=datetime.fromtimestamp(t, tz=UTC), user_id=cred.user_id, detail=detail
    )


FAILURE_WINDOW_SECONDS = 900
FAILURES_PER_RECORD = 10


def _aggregated_failure(cred: Credential, meta: RequestMeta, t: float, detail: str) -> None:
    """Failures that spend no challenge are counted per user per 15-minute window (atomic ADD);
    an Activity record is written for the first and then for every tenth, carrying the count, so
    a flood of made-up challenge ids costs one write per request, not an unbounded audit log."""
    window = int(t) // FAILURE_WINDOW_SECONDS
    item = FailureWindow(failure_window_pk(cred.user_id or cred.key_id or "?", window))
    item.update(
        actions=[
            FailureWindow.item_type.set(FailureWindow),  # type: ignore[arg-type]  # typed like a save
            FailureWindow.failures.add(1),
            FailureWindow.ttl.set(datetime.fromtimestamp((window + 2) * FAILURE_WINDOW_SECONDS, tz=UTC)),
        ]
    )
    n = int(item.failures)
    if n == 1 or n % FAILURES_PER_RECORD == 0:
        count = 1 if n == 1 else (FAILURES_PER_RECORD - 1 if n == FAILURES_PER_RECORD else FAILURES_PER_RECORD)
        activity.record(
            cred.account_id,
            "otp_failed",
            meta,
            at=datetime.fromtimestamp(t, tz=UTC),
            user_id=cred.user_id,
            detail=detail if n == 1 else f"{detail} ({n} in this 15-minute window)",
            count=count,
        )


def _wrong_code(cred: Credential, ch: Challenge, meta: RequestMeta, t: float, detail: str = "wrong code") -> OtpDenied:
    """Count a wrong code on the challenge and on the user; lock the user after too many."""
    cfg = settings()
    left = spend_attempt(ch)
    attempts_left, dead = (0, True) if left is None else (left, False)
    _failure_event(cred, meta, t, detail)
    cred.update(actions=[Credential.otp_failures.add(1)])
    if cred.otp_failures >= cfg.otp_lockout_failures:
        _lock(cred, meta, t)
        return OtpDenied(
            "otp_locked",
            f"too many wrong codes: OTP is locked for {cfg.otp_lockout_seconds // 60} minutes and you were emailed",
        )
    if dead:
        return OtpDenied("otp_locked", "too many wrong codes for this challenge; request a new one")
    return OtpDenied("otp_invalid", "the code is not correct", attempts_left=attempts_left)


def _lock(cred: Credential, meta: RequestMeta, t: float) -> None:
    cfg = settings()
    until = int(t) + cfg.otp_lockout_seconds
    try:
        cred.update(
            actions=[Credential.otp_locked_until.set(until), Credential.otp_failures.set(0)],
            condition=Credential.otp_locked_until.does_not_exist() | (Credential.otp_locked_until <= int(t)),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return  # someone else locked it a moment ago (and sent the email)
        raise
    at = datetime.fromtimestamp(t, tz=UTC)
    activity.record(
        cred.account_id,
        "otp_locked",
        meta,
        at=at,
        user_id=cred.user_id,
        detail=f"{cfg.otp_lockout_failures} wrong codes in a row",
    )
    user = User(account_pk(cred.account_id), user_sk(cred.user_id or ""))
    user.update(
        actions=[
            User.otp_locked_until.set(iso(until)),
            User.last_change.set(change_by("otp_locked", meta, at, cred.email, cred.user_id)),
        ]
    )
    try:
        _mailer().send(
            lockout_email(cred.email or "", until, meta, at), _about("lockout", cred.account_id, cred.user_id)
        )
    except _mailer().MailError:
        pass  # the account notice (stream) still tells every user; the lock itself holds


def replayed(cred: Credential | Principal, ch: Challenge, meta: RequestMeta, t: float) -> OtpDenied:
    """A used challenge came back from someone else, with another code or body, or too late to be
    a retry: record it (a replay alarm) and warn the user once per challenge."""
    at = datetime.fromtimestamp(t, tz=UTC)
    activity.record(
        cred.account_id,
        "otp_replayed",
        meta,
        at=at,
        user_id=cred.user_id,
        detail=f"challenge {ch.challenge_id} for {ch.method} {ch.path}",
    )
    try:
        ch.update(
            actions=[Challenge.replay_notified.set(True)],
            condition=Challenge.replay_notified.does_not_exist() | (Challenge.replay_notified != True),  # noqa: E712
        )
        notify = True
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        notify = False
    if notify and cred.email:
        try:
            _mailer().send(replay_email(cred.email, ch, meta, at), _about("replay", cred.account_id, cred.user_id))
        except _mailer().MailError:
            pass  # the activity record above still raises the signal for the risk scan
    return OtpDenied("otp_used", "this challenge was already used; request a new one")
