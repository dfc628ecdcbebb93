"""Notices about wabaguard's own findings — a flag, a review that starts, a review that ends.

They are not changes someone made, so they get their own words: why (the finding, and its
evidence in words, people named by email, never by id), what happens now, and how it ends.
"""

from __future__ import annotations

from typing import Any

from wabaguard.config import settings
from wabaguard.models import Account, Flag, PhoneNumber, User, account_pk, flag_sk

PAUSED = (
    "Every key action on the account is paused until the review ends: new API keys, webhook, profile and "
    "template changes, adding or removing users, authenticator enrollment, token replacement and Partner "
    "changes are refused while it lasts. Protective actions stay open: revoking API keys, cancelling a "
    "Partner change, reporting a change."
)
INTEGRATORS_PAUSED = "While the review lasts, key actions answer 423 account_under_review."
INTEGRATORS_TOKEN = (
    "Replace an access token: POST /v1/me/tokens; revoke an API key: DELETE /v1/phone-numbers/{id}/api-keys/{key_id}."
)
HOW_IT_ENDS = (
    "How it ends: wabaguard's operations team has been alerted and looks at the evidence. They resolve the "
    "finding as confirmed (they will contact you about what to secure) or as a false positive (what triggered "
    "it is then treated as normal for your account). You will get an email when the review ends."
)


def load_flag(account_id: str, flag_id: str | None) -> Flag | None:
    if not flag_id:
        return None
    try:
        return Flag.get(account_pk(account_id), flag_sk(flag_id))
    except Flag.DoesNotExist:
        return None


def people(account_id: str) -> dict[str, str]:
    """user id → email for everyone who ever belonged to the account (removed users too)."""
    return {u.user_id: u.email for u in User.query(account_pk(account_id), User.sk.startswith("USER#"))}


def _phone(phone_number_id: str) -> str:
    try:
        return PhoneNumber.get(*PhoneNumber.key(phone_number_id)).display
    except PhoneNumber.DoesNotExist:
        return phone_number_id


def in_words(evidence: dict[str, Any], emails: dict[str, str]) -> str:
    """One evidence record as a sentence a customer can check against what they know."""
    who = emails.get(str(evidence.get("user_id")), "someone") if evidence.get("user_id") else None
    where = " from " + str(evidence["ip"]) if evidence.get("ip") else ""
    if evidence.get("country"):
        where += f" ({evidence['country']})"
    at = f" at {evidence['at']}" if evidence.get("at") else ""
    kind = evidence.get("kind")
    if kind == "key_action":
        return f"{evidence.get('action', 'a key action')} by {who or 'an API key'}{where}{at}"
    if kind == "login":
        return f"sign-in by {who or 'someone'}{where}{at}"
    if kind == "otp_failed":
        return f"{evidence.get('count') or 1} wrong one-time code(s) by {who or 'someone'}{where}{at}"
    if kind == "otp_locked":
        return f"one-time codes of {who or 'a user'} locked after repeated wrong codes{where}{at}"
    if kind == "otp_replayed":
        return f"an already used one-time code of {who or 'a user'} presented again{where}{at}"
    if kind == "messages_sent":
        countries = ", ".join(f"{cc} {n}" for cc, n in sorted((evidence.get("countries") or {}).items()))
        return f"{evidence.get('count', 0)} messages sent from {_phone(str(evidence.get('phone_number_id')))}{at}" + (
            f" (to {countries})" if countries else ""
        )
    if kind == "api_request":
        return f"{evidence.get('count', 0)} API requests with API key {evidence.get('key_id', '?')}{where}{at}"
    if kind == "meta_event":  # one line of what Meta reported: its detail says which
        return f"{evidence.get('detail') or evidence.get('action') or 'a signal from Meta'}{at}"
    if evidence.get("reported_by"):
        return f"{evidence['reported_by']} reported a change as not theirs{where}"
    return f"{kind or 'event'}{where}{at}"


def _explained(flag: Flag, emails: dict[str, str]) -> str:
    text = flag.explanation
    for user_id, email in emails.items():
        text = text.replace(user_id, email)
    return text


def notice(kind: str, account: Account, by: str, ref: str | None, flag: Flag | None = None) -> dict[str, Any]:
    """Headline, subject, paragraphs, facts and footer of a flag / review notice."""
    name = account.name
    flag = flag or load_flag(account.account_id, ref)
    emails = people(account.account_id)
    facts: list[tuple[str, str]] = []
    if flag is not None:
        facts += [("Finding", _explained(flag, emails)), ("Severity", flag.severity), ("Rule", flag.rule)]
        lines = list(dict.fromkeys(in_words(e, emails) for e in flag.evidence[:8]))  # each piece once
        facts += [(f"Evidence {i}", line) for i, line in enumerate(lines, 1)]
    facts.append(("Raised by" if kind != "review_released" else "Resolved by", by))
    support = settings().support_email
    if kind == "review_started":
        why = _explained(flag, emails) if flag is not None else (account.review_reason or "a high-severity finding")
        return {
            "headline": f"{name} is under security review: {why}",
            "subject": f"{name} is under security review",
            "paragraphs": [f"{name} was put under security review because {why}.", PAUSED, HOW_IT_ENDS],
            "facts": facts,
            "footer": [
                "If you recognise this activity as yours or a colleague's, tell us at "
                f"{support}: it helps end the review sooner. If you do not, ask your admin to revoke API keys "
                "nobody recognises; once the review ends, every colleague should replace their access token.",
            ],
            "integrators": [INTEGRATORS_PAUSED],
        }
    if kind == "review_released":
        verdict = {"confirmed": "confirmed", "false_positive": "a false positive"}.get(
            str(flag.verdict if flag else ""), "resolved"
        )
        note = f" Their note: {flag.note}" if flag is not None and flag.note else ""
        return {
            "headline": f"The security review of {name} has ended",
            "subject": f"{name} released from security review",
            "paragraphs": [
                f"wabaguard's operations team resolved the finding as {verdict}, and the review of {name} ended.{note}",
                "Key actions are open again. If the finding was confirmed, make sure every user has replaced their "
                "access token and that the webhook URLs and API keys are the ones you expect.",
            ],
            "facts": facts,
            "footer": [],
            "integrators": [INTEGRATORS_TOKEN],
        }
    # account_flagged: a finding that does not pause anything (or one more during a review)
    what = _explained(flag, emails) if flag is not None else "a finding"
    paused = account.under_review
    return {
        "headline": f"wabaguard's monitoring flagged {name}: {what}",
        "subject": f"Security flag on {name}: {flag.rule if flag else 'finding'}",
        "paragraphs": [
            f"wabaguard's monitoring flagged {name}: {what}.",
            "The account is under review already; this finding is added to it." if paused else
            "Nothing is paused: check the evidence below against what you and your colleagues did.",
            HOW_IT_ENDS if paused else "wabaguard's operations team reviews flags and may contact you.",
        ],
        "facts": facts,
        "footer": [
            f"If this was not you or a colleague, write to {support} and ask your admin to revoke API keys "
            "nobody recognises and to have every colleague replace their access token.",
        ],
        "integrators": [INTEGRATORS_TOKEN],
    }
