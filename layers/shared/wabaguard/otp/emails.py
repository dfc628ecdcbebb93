"""The emails of §OTP: the code (with the request in words and its reference), the replay warning,
the lockout. The mailer is imported when a mail is due: the authorizer's cold start does not pay."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from wabaguard.activity import RequestMeta
from wabaguard.config import settings
from wabaguard.models import Challenge, iso

if TYPE_CHECKING:
    from wabaguard.notices import mailer


def _mailer() -> Any:
    """The mailer, imported when a mail is due (the authorizer's cold start does not pay for it)."""
    from wabaguard.notices import mailer

    return mailer


# ====================================================================== emails
def _footer() -> list[str]:
    cfg = settings()
    return [
        "If this was not you, do not share the code. Someone may have your token: replace it at once with "
        "POST /v1/me/tokens (the old one stops working), revoke your API keys, and write to "
        f"{cfg.support_email}.",
        "wabaguard · account security for your WhatsApp Business Account",
    ]


def code_email(to: str, ch: Challenge, code: str) -> mailer.Email:
    ref = reference(ch.challenge_id)
    facts = [
        ("Reference", f"{ref} ({ch.action})"),
        *((str(label), str(value)) for label, value in ch.facts or []),
        ("Request", f"{ch.method} {ch.path}"),
        ("Requested from IP", ch.requester_ip or "unknown"),
        ("User agent", ch.requester_user_agent or "unknown"),
        ("Code expires", iso(ch.expires_at)),
    ]
    return _mailer().render(
        to,
        f"[{ref}] Your wabaguard code to approve: {ch.description}"[:200],
        [
            f"Someone signed in as you asked to: {ch.description}.",
            f"Your one-time code is {code}. It approves exactly this request, once, until {iso(ch.expires_at)}.",
            f"This is challenge {ref}: type the code where the request shows the same reference. If you asked "
            "for several approvals, each email has its own code.",
        ],
        facts,
        _footer(),
    )


def replay_email(to: str, ch: Challenge, meta: RequestMeta, at: datetime) -> mailer.Email:
    return _mailer().render(
        to,
        "Warning: an approval code of yours was used twice",
        [
            f'The code you used to approve "{ch.description}" was presented again at {iso(at)}. '
            "Codes work once, so nothing was done, but it means the code or the request was "
            "intercepted — by malware, a proxy or someone with access to your mailbox or session.",
        ],
        [
            ("From IP", meta.ip or "unknown"),
            ("User agent", meta.user_agent or "unknown"),
            ("Challenge", ch.challenge_id),
        ],
        _footer(),
    )


def lockout_email(to: str, until: int, meta: RequestMeta, at: datetime) -> mailer.Email:
    cfg = settings()
    return _mailer().render(
        to,
        "Your wabaguard one-time passwords are locked",
        [
            f"{cfg.otp_lockout_failures} wrong codes were entered in a row, the last at {iso(at)}. "
            f"Key actions are locked for your user until {iso(until)}.",
        ],
        [("Last attempt from IP", meta.ip or "unknown"), ("User agent", meta.user_agent or "unknown")],
        _footer(),
    )


def reference(challenge_id: str) -> str:
    """A short, non-secret name of a challenge (``A3F-9C2``) that its email and its answer share,
    so that two live challenges — two emails — can be told apart. Derived from the challenge id,
    which is no secret (it travels in a header); it says nothing about the code."""
    tail = challenge_id.removeprefix("ch_")[:6].upper()
    return f"{tail[:3]}-{tail[3:]}"
