"""The emails of §OTP: the code (with the request in words and its reference), the replay warning,
the lockout. The mailer is imported when a mail is due: the authorizer's cold start does not pay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wabaguard.activity import RequestMeta
from wabaguard.clock import for_people
from wabaguard.config import settings
from wabaguard.models import Challenge

if TYPE_CHECKING:
    from wabaguard.notices import mailer


def _mailer() -> Any:
    """The mailer, imported when a mail is due (the authorizer's cold start does not pay for it)."""
    from wabaguard.notices import mailer

    return mailer


# ====================================================================== emails
def _footer() -> list[str]:
    return [
        "If you did not ask for this, do not share the code and do not type it anywhere: someone may be "
        "using your login. Replace your access token now, ask an admin of your account to revoke API keys "
        f"nobody recognises, and write to {settings().support_email}.",
    ]


INTEGRATORS = ["Replace your access token: POST /v1/me/tokens (the old one stops working at once)."]
WHY = "You receive this because a request was made with your wabaguard login. Codes are only ever sent to you."


def code_email(to: str, ch: Challenge, code: str) -> mailer.Email:
    ref = reference(ch.challenge_id)
    expires = for_people(datetime.fromtimestamp(ch.expires_at, UTC))
    facts = _request_facts(ch, ref, expires, "Code expires")
    return _mailer().render(
        to,
        f"[{ref}] Your wabaguard code to approve: {ch.description}"[:200],
        [
            f"Someone signed in as you asked to: {ch.description}.",
            f"The code approves exactly this request, once, until {expires}. "
            f"Its reference is {ref}: type the code where the request shows the same reference. If you asked "
            "for several approvals, each email has its own code.",
        ],
        facts,
        _footer(),
        code=code,
        integrators=[f"The request: {ch.method} {ch.path} ({ch.action}).", *INTEGRATORS],
        why=WHY,
        reference=f"challenge {ref}",
    )


def _request_facts(ch: Challenge, ref: str, expires: str, label: str) -> list[tuple[str, str]]:
    return [
        ("Reference", ref),
        *((str(k), str(v)) for k, v in ch.facts or []),
        ("Requested from IP", ch.requester_ip or "unknown"),
        ("User agent", ch.requester_user_agent or "unknown"),
        (label, expires),
    ]


def approval_email(to: str, ch: Challenge, url: str) -> mailer.Email:
    """A passkey challenge's email: no code, the link to wabaguard's approval page, where the same
    words are shown and only the user's passkey approves (a phishing page cannot ask for it)."""
    ref = reference(ch.challenge_id)
    expires = for_people(datetime.fromtimestamp(ch.expires_at, UTC))
    return _mailer().render(
        to,
        f"[{ref}] Approve with your passkey: {ch.description}"[:200],
        [
            f"Someone signed in as you asked to: {ch.description}.",
            f"If it was you, open the approval page and confirm with your passkey, until {expires}: {url}",
            "The page is on wabaguard's own address and shows this request in the same words. Your passkey "
            "signs exactly this request, once; it cannot be used for any other.",
        ],
        _request_facts(ch, ref, expires, "Approval expires"),
        _footer(),
        integrators=[f"The request: {ch.method} {ch.path} ({ch.action}).", *INTEGRATORS],
        why=WHY,
        reference=f"challenge {ref}",
    )


def replay_email(to: str, ch: Challenge, meta: RequestMeta, at: datetime) -> mailer.Email:
    return _mailer().render(
        to,
        "Warning: an approval code of yours was used twice",
        [
            f'The code you used to approve "{ch.description}" was presented again, {for_people(at)}. '
            "Codes work once, so nothing was done, but it means the code or the request was "
            "intercepted — by malware, a proxy or someone with access to your mailbox or session.",
        ],
        [
            ("From IP", meta.ip or "unknown"),
            ("User agent", meta.user_agent or "unknown"),
            ("Reference", reference(ch.challenge_id)),
        ],
        _footer(),
        integrators=INTEGRATORS,
        why=WHY,
    )


def lockout_email(to: str, until: int, meta: RequestMeta, at: datetime) -> mailer.Email:
    cfg = settings()
    return _mailer().render(
        to,
        "Your wabaguard one-time passwords are locked",
        [
            f"{cfg.otp_lockout_failures} wrong codes were entered in a row, the last {for_people(at)}. "
            f"Key actions are locked for your user until {for_people(datetime.fromtimestamp(until, UTC))}.",
        ],
        [("Last attempt from IP", meta.ip or "unknown"), ("User agent", meta.user_agent or "unknown")],
        _footer(),
        integrators=INTEGRATORS,
        why=WHY,
    )


def reference(challenge_id: str) -> str:
    """A short, non-secret name of a challenge (``A3F-9C2``) that its email and its answer share,
    so that two live challenges — two emails — can be told apart. Derived from the challenge id,
    which is no secret (it travels in a header); it says nothing about the code."""
    tail = challenge_id.removeprefix("ch_")[:6].upper()
    return f"{tail[:3]}-{tail[3:]}"
