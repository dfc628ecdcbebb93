"""Issuing challenges (§OTP): for exactly one prepared request, within the user's quota, its code
mailed (or answered by the authenticator); resending the same code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from wabaguard.activity import RequestMeta
from wabaguard.aws import pepper
from wabaguard.config import settings
from wabaguard.errors import InvalidRequest, NotFound, OtpDenied, RateLimited, Unavailable
from wabaguard.models import (
    Account,
    Challenge,
    MailDelivery,
    RateWindow,
    RequestWindow,
    User,
    account_pk,
    challenge_pk,
    condition_failed,
    iso,
    mail_pk,
    rate_pk,
    request_window_pk,
    user_sk,
)
from wabaguard.otp.checks import _now
from wabaguard.otp.emails import _mailer, approval_email, code_email, reference
from wabaguard.passkeys import page as approval_page
from wabaguard.passkeys import policy, store
from wabaguard.passkeys.binding import b64url, new_nonce
from wabaguard.people.access import load_user, valid_id
from wabaguard.people.principal import Principal
from wabaguard.security import body_digest, code_digest, derive_code, mask_email, new_code_seed

__all__ = ["Asked", "challenge_view", "count_request", "issue", "reference", "resend"]


# ====================================================================== issuing
@dataclass(frozen=True)
class Asked:
    """A request that would succeed, as the key actions prepared it: what a challenge approves."""

    action: str
    method: str
    path: str
    body: Any
    description: str
    facts: list[tuple[str, str]] | None = None
    account: Account | None = None  # the account acted on: its security policy applies (§Passkeys)


def issue(
    principal: Principal, asked: Asked, channel: str | None, meta: RequestMeta, now: float | None = None
) -> dict[str, Any]:
    """Create a challenge for exactly ``asked`` and deliver its code. The caller counted the
    request (``count_request``) and prepared it: a code is only sent for a request that would
    succeed."""
    t = _now(now)
    cfg = settings()
    user = load_user(principal.account_id, principal.user_id or "")
    locked = int(principal.otp_locked_until or 0)
    if locked > t:
        raise OtpDenied(
            "otp_locked",
            f"OTP is locked for this token until {iso(locked)} after repeated wrong codes; if that was not "
            "you, ask another admin to remove and re-add you, or write to support",
        )
    passkeys = store.of_user(user.account_id, user.user_id)
    use_channel = _channel(user, channel, asked, bool(passkeys))

    _reserve_slot(user.user_id, t)
    challenge_id = new_challenge_id()
    seed = new_code_seed() if use_channel == "email" else None
    expires = t + cfg.otp_lifetime_seconds
    ch = Challenge(
        challenge_pk(challenge_id),
        challenge_id=challenge_id,
        user_id=user.user_id,
        account_id=principal.account_id,
        action=asked.action,
        method=asked.method,
        path=asked.path,
        body_sha256=body_digest(asked.body),
        description=asked.description,
        facts=[list(f) for f in asked.facts] if asked.facts else None,
        channel=use_channel,
        destination=DESTINATIONS[use_channel] if use_channel != "email" else mask_email(user.email),
        created_at=int(t),
        expires_at=int(expires),
        ttl=datetime.fromtimestamp(expires + 86400, tz=UTC),
        attempts=0,
        last_sent_at=int(t) if use_channel == "email" else None,
        sends=1 if use_channel == "email" else 0,
        requester_ip=meta.ip,
        requester_user_agent=meta.user_agent,
    )
    if seed is not None:
        p = pepper()
        ch.code_seed = seed
        ch.code_digest = code_digest(p, challenge_id, derive_code(p, challenge_id, seed))
    link = None
    if use_channel == "passkey":
        ch.passkey_nonce = b64url(new_nonce())
        link = approval_page.new_link(ch, expires)
    if seed is not None:
        # The code goes out before the challenge is stored, so the challenge is written once, with
        # its email's id (one write less per challenge, issue 26). Should the write then fail, the
        # email holds a code no challenge answers to — and the caller is told to try again.
        try:
            ch.mail_message_id = _send_code(ch, user.email, derive_code(pepper(), challenge_id, seed))
        except _mailer().MailError:
            _release_slot(user.user_id, t)
            raise Unavailable("the email with your code could not be sent; nothing was changed, try again") from None
    try:
        ch.save(condition=Challenge.pk.does_not_exist())
    except PutError:
        _release_slot(user.user_id, t)
        raise
    if link is not None:
        link.item.save()
    view = challenge_view(ch, t)
    if link is not None:
        view.update(approval_page.offer(ch, passkeys, link.url))
        view["emailed"] = _mail_approval(user.email, ch, link.url)
    return view


def _mail_approval(to: str, ch: Challenge, url: str) -> bool:
    """The approval page's link by email, for a user whose front end does not ask for the passkey
    itself. Best effort: the answer carries the same link, so a failed send loses nothing."""
    try:
        about = _mailer().sent.About(
            "approval", account_id=ch.account_id, user_id=ch.user_id, challenge_id=ch.challenge_id
        )
        message_id = _mailer().send(approval_email(to, ch, url))
        _mailer().sent.record(message_id, to, "approval", about)
        return True
    except _mailer().MailError:
        return False


DESTINATIONS = {"totp": "authenticator app", "passkey": "passkey"}


def _channel(user: User, asked_for: str | None, asked: Asked, has_passkey: bool) -> str:
    """The factor that answers this challenge: a passkey when the policy demands one (or the user
    has one and asks for nothing else), else the authenticator once enrolled, else email."""
    needed = asked.account is not None and policy.passkey_needed(asked.account, asked.action, asked.body, has_passkey)
    if needed:
        if not has_passkey:
            raise OtpDenied(
                "passkey_required",
                f"{asked.account.name if asked.account else 'the account'}'s security policy lets only a passkey "
                f"approve {asked.action}: register one first (POST /v1/me/passkeys/options, then POST /v1/me/passkeys)",
            )
        if asked_for not in (None, "passkey"):
            raise OtpDenied(
                "passkey_required", f"the account's security policy lets only a passkey approve {asked.action}"
            )
        return "passkey"
    if asked_for == "passkey" and not has_passkey:
        raise InvalidRequest("channel", "you have no passkey yet: register one with POST /v1/me/passkeys")
    if asked_for == "passkey" or (asked_for is None and has_passkey):
        return "passkey"
    if asked_for == "totp" and not user.totp_enabled:
        raise InvalidRequest("channel", "no authenticator app is enrolled; use email")
    if asked_for == "email" and user.totp_enabled:
        # A stolen mailbox must not beat the authenticator: once enrolled, codes come from it (or,
        # for a lost device, from a recovery code typed into the same challenge, or from ops).
        raise InvalidRequest(
            "channel", "your user has an authenticator app: use its code, or one of your recovery codes"
        )
    return "totp" if user.totp_enabled else "email"


REQUEST_WINDOW_SECONDS = 300


def count_request(principal: Principal, t: float) -> None:
    """Per-credential limit on the OTP routes, counted before anything else (refused requests
    count too, unlike the challenge quota): one atomic ADD per request, 429 past the limit."""
    cfg = settings()
    window = int(t) // REQUEST_WINDOW_SECONDS
    item = RequestWindow(request_window_pk(principal.principal_id, window))
    item.update(
        actions=[
            RequestWindow.item_type.set(RequestWindow),  # type: ignore[arg-type]  # typed like a save
            RequestWindow.requests.add(1),
            RequestWindow.ttl.set(datetime.fromtimestamp((window + 2) * REQUEST_WINDOW_SECONDS, tz=UTC)),
        ]
    )
    if int(item.requests) > cfg.otp_requests_per_credential:
        retry = (window + 1) * REQUEST_WINDOW_SECONDS - t
        raise RateLimited(
            f"at most {cfg.otp_requests_per_credential} requests to the OTP routes per "
            f"{REQUEST_WINDOW_SECONDS // 60} minutes per credential; try again in {int(retry) + 1} s",
            retry_after=int(retry) + 1,
        )


def new_challenge_id() -> str:
    return f"ch_{secrets.token_hex(16)}"


def _about(kind: str, ch: Challenge) -> Any:
    """What a challenge's email is, for its delivery (§Mail delivery)."""
    return _mailer().sent.About(kind, account_id=ch.account_id, user_id=ch.user_id, challenge_id=ch.challenge_id)


def _send_code(ch: Challenge, to: str, code: str) -> str:
    """The code email, kept for SES's events; its id is named on the challenge, whose answer shows
    how its delivery went (a bounced code: the client offers another channel)."""
    return _mailer().send(code_email(to, ch, code), _about("code", ch))


def challenge_view(ch: Challenge, now: float) -> dict[str, Any]:
    return {
        "challenge_id": ch.challenge_id,
        "reference": reference(ch.challenge_id),
        "action": ch.action,
        "method": ch.method,
        "path": ch.path,
        "description": ch.description,
        "channel": ch.channel,
        "destination": ch.destination,
        "expires_at": iso(ch.expires_at),
        "expires_in": max(0, int(ch.expires_at - now)),
    }


def _reserve_slot(user_id: str, t: float) -> None:
    """Sliding-window rate limit (optimistic locking on the window item)."""
    cfg = settings()
    for _ in range(5):
        try:
            window = RateWindow.get(rate_pk(user_id), consistent_read=True)
        except RateWindow.DoesNotExist:
            window = RateWindow(rate_pk(user_id))
        issued: list[float] = [float(x) for x in window.issued or []]  # type: ignore[arg-type]
        recent = sorted(x for x in issued if x > t - cfg.otp_rate_window_seconds)
        if len(recent) >= cfg.otp_challenges_per_window:
            retry = recent[0] + cfg.otp_rate_window_seconds - t
            raise RateLimited(
                f"at most {cfg.otp_challenges_per_window} challenges per "
                f"{cfg.otp_rate_window_seconds // 60} minutes; try again in {int(retry) + 1} s",
                retry_after=int(retry) + 1,
            )
        window.issued = [*recent, t]  # type: ignore[list-item]
        window.ttl = datetime.fromtimestamp(t + cfg.otp_rate_window_seconds, tz=UTC)
        try:
            window.save()  # VersionAttribute makes this conditional
            return
        except PutError as exc:
            if not condition_failed(exc):
                raise
    raise Unavailable("too many concurrent challenge requests; try again")


def _release_slot(user_id: str, t: float) -> None:
    for _ in range(5):
        try:
            window = RateWindow.get(rate_pk(user_id), consistent_read=True)
        except RateWindow.DoesNotExist:
            return
        if t not in (window.issued or []):
            return
        window.issued = [x for x in window.issued if x != t]
        try:
            window.save()
            return
        except PutError as exc:
            if not condition_failed(exc):
                raise


def _own(principal: Principal, challenge_id: str) -> Challenge:
    """The caller's own challenge; any other (or none) is 404 alike: ids are not confirmed to strangers."""
    if not valid_id(challenge_id):
        raise NotFound("no such challenge")
    try:
        ch = Challenge.get(challenge_pk(challenge_id), consistent_read=True)
    except Challenge.DoesNotExist:
        raise NotFound(f"challenge {challenge_id} does not exist") from None
    if ch.user_id != principal.user_id:
        raise NotFound(f"challenge {challenge_id} does not exist")
    return ch


DELIVERY_SHOWN = {"complained": "delivered", "rejected": "bounced"}  # what the client can act on


def status(principal: Principal, challenge_id: str, now: float | None = None) -> dict[str, Any]:
    """``GET /v1/otp/challenges/{id}``: the challenge as issued, with how its code email fared
    (``delivery``: sent | delayed | delivered | bounced) — a bounced code lets the client offer
    another channel. Only its own user sees it."""
    t = _now(now)
    ch = _own(principal, challenge_id)
    view = challenge_view(ch, t)
    view["used"] = bool(ch.used_at)
    if ch.mail_message_id:
        try:
            delivery = MailDelivery.get(mail_pk(ch.mail_message_id), consistent_read=True)
            view["delivery"] = DELIVERY_SHOWN.get(delivery.status, delivery.status)
        except MailDelivery.DoesNotExist:
            view["delivery"] = "sent"
    return view


def resend(principal: Principal, challenge_id: str, now: float | None = None) -> dict[str, Any]:
    """Send the same code again: at most once per resend interval; attempts and expiry unchanged."""
    t = _now(now)
    cfg = settings()
    count_request(principal, t)
    ch = _own(principal, challenge_id)
    _refuse_closed(ch, t)
    if ch.channel != "email" or not ch.code_seed:
        raise InvalidRequest("channel", "this challenge is answered with your authenticator app; nothing to resend")
    previous = ch.last_sent_at or 0
    try:
        ch.update(
            actions=[Challenge.last_sent_at.set(int(t)), Challenge.sends.add(1)],
            condition=(Challenge.last_sent_at <= int(t) - cfg.otp_resend_seconds) & Challenge.used_at.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        retry = int(previous + cfg.otp_resend_seconds - t) + 1
        raise RateLimited(f"the code can be re-sent once every {cfg.otp_resend_seconds} s", retry_after=retry) from None
    user = User.get(account_pk(principal.account_id), user_sk(ch.user_id))
    try:
        message_id = _send_code(ch, user.email, derive_code(pepper(), ch.challenge_id, str(ch.code_seed)))
    except _mailer().MailError:
        ch.update(actions=[Challenge.last_sent_at.set(previous)])
        raise Unavailable("the email could not be sent; try again") from None
    ch.update(actions=[Challenge.mail_message_id.set(message_id)])
    return challenge_view(ch, t)


def _refuse_closed(ch: Challenge, t: float) -> None:
    if ch.used_at:
        raise OtpDenied("otp_used", "this challenge was already used")
    if ch.expires_at <= t:
        raise OtpDenied("otp_expired", "this challenge has expired; request a new one")
    if ch.attempts >= settings().otp_max_attempts:
        raise OtpDenied("otp_locked", "too many wrong codes; request a new challenge")
