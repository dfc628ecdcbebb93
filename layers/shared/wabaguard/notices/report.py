""" "This wasn't me": a single-use link in every change notice, valid 7 days, stored as a digest.

GET shows a plain page (no script) naming the change and asking for confirmation; only POST acts,
because mail scanners fetch links. Confirming raises a ``high`` flag on the account (→ review,
everyone told, ops alerted).
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import timedelta

from pynamodb.exceptions import UpdateError

from wabaguard import clock
from wabaguard.activity import RequestMeta, record
from wabaguard.config import API_STAGE, settings
from wabaguard.errors import NotFound
from wabaguard.models import ReportToken, condition_failed, iso, report_pk
from wabaguard.people.access import active_users, load_account
from wabaguard.risk import flags
from wabaguard.security import new_token, token_digest

VALID_FOR = timedelta(days=7)
NOT_VALID = "This link is unknown, older than 7 days, or its recipient no longer has access to the account."


def new_link(
    account_id: str, change_id: str, headline: str, recipient: str, facts: list[tuple[str, str]] | None = None
) -> str:
    """Create a report token for one recipient of one change; returns the link. ``facts`` (what,
    old → new, who, when, where) are what its page shows."""
    token = new_token("wgr")
    ReportToken(
        report_pk(token_digest(token)),
        account_id=account_id,
        change_id=change_id,
        headline=headline[:500],
        facts=[[str(k)[:100], str(v)[:1000]] for k, v in (facts or [])[:30]],
        recipient=recipient,
        ttl=clock.utcnow() + VALID_FOR,
    ).save(condition=ReportToken.pk.does_not_exist())
    return f"{settings().public_base_url}/{API_STAGE}/report/{token}"


def _load(token: str) -> ReportToken | None:
    if not token or len(token) > 100:
        return None
    try:
        item = ReportToken.get(report_pk(token_digest(token)), consistent_read=True)
    except ReportToken.DoesNotExist:
        return None
    if item.ttl is not None and item.ttl < clock.utcnow():
        return None
    if not still_has_access(item.account_id, item.recipient):
        return None
    return item


def still_has_access(account_id: str, recipient: str) -> bool:
    """A link works only while its recipient may still act on the account: a user of it, or a
    user of its managing Partner. Removing a person kills their links at once."""
    try:
        account = load_account(account_id)
    except NotFound:
        return False
    people = {u.email for u in active_users(account.account_id)}
    if account.partner_id:
        people |= {u.email for u in active_users(account.partner_id)}
    return recipient in people


# The page's only styling: inline, allowed by its hash in the page's Content-Security-Policy (no
# 'unsafe-inline', nothing loaded from anywhere).
STYLE = (
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f6f8;color:#1d2733}"
    "header{background:#0b5d3b;color:#fff;padding:14px 24px;font-weight:600;letter-spacing:.02em}"
    "main{max-width:640px;margin:24px auto;background:#fff;border-radius:8px;padding:24px 28px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{font-size:22px;margin:0 0 12px}"
    "table{border-collapse:collapse;width:100%;margin:16px 0}"
    "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e7eb;vertical-align:top}"
    "th{width:34%;color:#52606d;font-weight:500}"
    "td{word-break:break-word}"
    "button{background:#b42318;color:#fff;border:0;border-radius:6px;padding:12px 18px;font-size:16px;cursor:pointer}"
    "footer{max-width:640px;margin:0 auto 24px;color:#52606d;font-size:13px;padding:0 4px}"
)


def style_hash() -> str:
    """The CSP source that allows exactly STYLE."""
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    return f"'sha256-{digest}'"


REPORT_BUTTON = "Yes, report this change — it was not me"


def html_page(
    title: str, paragraphs: list[str], button: str | None = None, facts: list[list[str]] | None = None
) -> str:
    """A plain page of wabaguard's (escaped text, no script); ``button`` makes a POST form of it —
    links in emails only ever act on POST, because mail scanners fetch them."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if facts:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
        body += f"<table>{rows}</table>"
    if button:
        body += f'<form method="post"><button type="submit">{html.escape(button)}</button></form>'
    support = html.escape(settings().support_email)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · wabaguard</title><style>{STYLE}</style></head><body>"
        "<header>wabaguard · account security</header>"
        f"<main><h1>{html.escape(title)}</h1>{body}</main>"
        f"<footer>Questions? Write to {support}.</footer></body></html>"
    )


def page(token: str) -> tuple[int, str]:
    item = _load(token)
    if item is None:
        return 404, html_page("Link not valid", [NOT_VALID])
    if item.used_at:
        return 200, html_page("Already reported", [f"This change was reported at {item.used_at}. Our team is on it."])
    return 200, html_page(
        "Was this change not made by you?",
        [
            f"The change: {item.headline}.",
            "If neither you nor a colleague made it, confirm below. The account is put under review at once "
            "(every key action is paused), every user and the managing Partner are told, "
            "and our operations team looks into it.",
        ],
        button=REPORT_BUTTON,
        facts=list(item.facts or []),
    )


def confirm(token: str, meta: RequestMeta) -> tuple[int, str, bool]:
    """Act on a report; returns (status, page, whether a new high flag was raised)."""
    item = _load(token)
    if item is None:
        return 404, html_page("Link not valid", [NOT_VALID]), False
    now = clock.utcnow()
    try:
        item.update(actions=[ReportToken.used_at.set(iso(now))], condition=ReportToken.used_at.does_not_exist())
    except UpdateError as exc:
        if condition_failed(exc):
            return 200, html_page("Already reported", ["This change was reported already. Our team is on it."]), False
        raise
    account = load_account(item.account_id)
    explanation = f"{item.recipient} reported that this change was not theirs: {item.headline}"
    flag = flags.raise_flag(
        account,
        "reported_by_user",
        "high",
        explanation,
        [{"change_id": item.change_id, "reported_by": item.recipient, "ip": meta.ip or "unknown"}],
        now=now,
        raised_by=item.recipient,
    )
    record(account.account_id, "report", meta, at=now, detail=f"change {item.change_id} reported as not theirs")
    page_html = html_page(
        "Thank you — the account is under review",
        [
            "We paused every key action on this account (new API keys, webhook, profile and template changes, "
            "users, authenticators, Partner changes) and told every user.",
            "What to do now: have every user replace their access token (POST /v1/me/tokens) once the review "
            "ends, revoke API keys you do not recognise, and check the webhook URL. Our operations team "
            "will contact you; you can also write to "
            f"{settings().support_email}.",
        ],
    )
    return 200, page_html, flag is not None
