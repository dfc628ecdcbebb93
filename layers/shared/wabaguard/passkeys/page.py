"""wabaguard's approval page (§Passkeys): the link a passkey challenge carries (in its answer and
its email). GET shows the request in the words of the email and asks for the passkey; only the
page's POST — the browser's assertion — approves, after the same check as the inline path. The
key action is then sent with ``X-OTP-Challenge`` alone. The link lives as long as the challenge."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from wabaguard import activity, clock
from wabaguard.activity import RequestMeta
from wabaguard.clock import for_people
from wabaguard.config import API_STAGE, settings
from wabaguard.models import ApprovalLink, Challenge, Passkey, challenge_pk, condition_failed, live_link
from wabaguard.models.passkeys import approval_link_pk
from wabaguard.otp.checks import spend_attempt
from wabaguard.otp.emails import reference
from wabaguard.pages import LinkPage
from wabaguard.passkeys import assertions, store
from wabaguard.passkeys.binding import approval_challenge, from_b64url
from wabaguard.security import token_digest

BUTTON = "Approve with my passkey"
NOT_VALID = (
    "This approval link is not valid: it was already used, the request expired, or the link is incomplete. "
    "Nothing was changed. If you still want the change, ask for it again where you made it."
)

# The page's only script: read the options, ask the browser for the passkey, post its answer here.
SCRIPT = (
    "(function(){var d=JSON.parse(document.getElementById('data').textContent),"
    "s=document.getElementById('status'),b=document.getElementById('act');"
    "function dec(t){t=t.replace(/-/g,'+').replace(/_/g,'/');while(t.length%4)t+='=';"
    "return Uint8Array.from(atob(t),function(c){return c.charCodeAt(0)});}"
    "function enc(x){var a=new Uint8Array(x),t='';for(var i=0;i<a.length;i++)t+=String.fromCharCode(a[i]);"
    "return btoa(t).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'');}"
    "b.addEventListener('click',function(){var o=d.publicKey;s.textContent='Waiting for your passkey…';"
    "navigator.credentials.get({publicKey:{challenge:dec(o.challenge),rpId:o.rpId,timeout:o.timeout,"
    "userVerification:o.userVerification,allowCredentials:o.allowCredentials.map(function(c){"
    "return {type:c.type,id:dec(c.id),transports:c.transports}})}}).then(function(c){var r=c.response,"
    "j={id:c.id,rawId:enc(c.rawId),type:c.type,clientExtensionResults:c.getClientExtensionResults(),"
    "response:{clientDataJSON:enc(r.clientDataJSON),authenticatorData:enc(r.authenticatorData),"
    "signature:enc(r.signature)}};if(r.userHandle)j.response.userHandle=enc(r.userHandle);"
    "return fetch(location.pathname,{method:'POST',credentials:'omit',headers:{'Content-Type':'application/json'},"
    "body:JSON.stringify({credential:j})})}).then(function(res){return res.json().then(function(out){"
    "s.textContent=out.detail||out.error;if(res.ok){b.disabled=true;document.body.dataset.approved='1';}"
    "else{document.body.dataset.refused=out.error||'refused';}})}).catch(function(e){"
    "s.textContent='Not approved ('+(e&&e.name||'error')+'). Nothing was changed.';"
    "document.body.dataset.refused='browser';});});})();"
)


@dataclass(frozen=True)
class NewLink:
    item: ApprovalLink
    url: str


def new_link(ch: Challenge, expires: float) -> NewLink:
    """A fresh link to this challenge's page (its digest is the key; it lives with the challenge)."""
    token = f"wga_{secrets.token_urlsafe(24)}"
    item = ApprovalLink(
        approval_link_pk(token_digest(token)),
        challenge_id=ch.challenge_id,
        user_id=ch.user_id,
        ttl=datetime.fromtimestamp(expires, tz=UTC),
    )
    return NewLink(item, f"{settings().public_base_url}/{API_STAGE}/approve/{token}")


def offer(ch: Challenge, passkeys: list[Passkey], url: str) -> dict[str, Any]:
    """What a passkey challenge's answer adds: the request options and the page's link."""
    challenge = approval_challenge(
        ch.challenge_id, ch.method, ch.path, ch.body_sha256, from_b64url(ch.passkey_nonce or "")
    )
    timeout = max(1, int(ch.expires_at - clock.now()))
    return {"passkey": {"publicKey": assertions.request_options(challenge, passkeys, timeout)}, "approval_url": url}


def _load(token: str, now: datetime) -> Challenge | None:
    link = live_link(ApprovalLink, approval_link_pk, token, now)
    if link is None:
        return None
    try:
        ch = Challenge.get(challenge_pk(link.challenge_id), consistent_read=True)
    except Challenge.DoesNotExist:
        return None
    if ch.user_id != link.user_id or ch.channel != "passkey" or ch.used_at or ch.expires_at <= now.timestamp():
        return None
    return ch


def show(token: str, now: datetime | None = None) -> LinkPage:
    """GET: the request in words and the button; nothing is approved by looking."""
    now = now or clock.utcnow()
    ch = _load(token, now)
    if ch is None:
        return LinkPage(404, "Approval link not valid", [NOT_VALID])
    expires = for_people(datetime.fromtimestamp(ch.expires_at, UTC))
    facts = [
        ["Reference", reference(ch.challenge_id)],
        *([str(k), str(v)] for k, v in ch.facts or []),
        ["Requested from IP", ch.requester_ip or "unknown"],
        ["User agent", ch.requester_user_agent or "unknown"],
        ["Approval expires", expires],
    ]
    if ch.passkey_verified_at:
        return LinkPage(200, "Already approved", [f"You approved: {ch.description}.", DONE], facts=facts)
    passkeys = store.of_user(ch.account_id, ch.user_id)
    data = offer(ch, passkeys, "")
    return LinkPage(
        200,
        "Approve this change?",
        [
            f"Someone signed in as you asked to: {ch.description}.",
            "If it was you and this is what you want, approve it with your passkey. Your passkey signs exactly "
            "this request, once. If it was not you, close this page: nothing happens, and tell your admin.",
        ],
        button=BUTTON,
        facts=facts,
        script=SCRIPT,
        data={"publicKey": data["passkey"]["publicKey"]},
    )


DONE = "Approved. Go back to where you made the request and send it again: it goes through now, once."


def approve(
    token: str, credential: dict[str, Any], meta: RequestMeta, now: datetime | None = None
) -> tuple[int, dict[str, Any]]:
    """POST: the browser's assertion, checked against this challenge's request; on success the
    challenge is marked approved (once) with what was signed, for the key action and its receipt."""
    now = now or clock.utcnow()
    t = now.timestamp()
    ch = _load(token, now)
    if ch is None:
        return 404, {"error": "not_found", "detail": NOT_VALID}
    if ch.passkey_verified_at:
        return 409, {"error": "otp_used", "detail": "this request was approved already; send it now"}
    cfg = settings()
    if ch.attempts >= cfg.otp_max_attempts:
        return 403, {"error": "otp_locked", "detail": "too many failed approvals; ask for a new challenge"}
    text = json.dumps(credential, separators=(",", ":"))
    try:
        checked = assertions.check(
            ch.account_id, ch.user_id, ch.challenge_id, ch.passkey_nonce or "", ch.method, ch.path, ch.body_sha256, text
        )
    except assertions.Refused as refused:
        left = refuse(ch, refused, meta, now)
        out: dict[str, Any] = {"error": "otp_invalid", "detail": f"not approved: {refused.detail}"}
        if left is not None:
            out["attempts_left"] = left
        return 403, out
    try:
        ch.update(
            actions=[
                Challenge.passkey_assertion.set(checked.assertion),
                Challenge.passkey_id.set(checked.passkey.passkey_id),
                Challenge.passkey_sign_count.set(checked.sign_count),
                Challenge.passkey_verified_at.set(int(t)),
            ],
            condition=Challenge.passkey_verified_at.does_not_exist()
            & Challenge.used_at.does_not_exist()
            & (Challenge.attempts < cfg.otp_max_attempts)
            & (Challenge.expires_at > int(t)),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return 409, {"error": "otp_used", "detail": "this request was approved or spent meanwhile"}
    return 200, {"approved": True, "challenge_id": ch.challenge_id, "detail": DONE}


def refuse(ch: Challenge, refused: assertions.Refused, meta: RequestMeta, now: datetime) -> int | None:
    """A refused assertion spends an attempt, is recorded (a clone raises its own record, which the
    risk scan turns into a high flag); returns the attempts left (None: the challenge is dead)."""
    left = spend_attempt(ch)
    activity.record(ch.account_id, "otp_failed", meta, at=now, user_id=ch.user_id, detail=f"passkey: {refused.detail}")
    if refused.clone:
        assertions.clone_suspected(ch.account_id, ch.user_id, refused.detail, meta, now)
    return left
