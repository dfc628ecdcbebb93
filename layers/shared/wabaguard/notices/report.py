""" "This wasn't me": a single-use link in every change notice, valid 7 days, stored as a digest.

GET shows a plain page (no script) naming the change and asking for confirmation; only POST acts,
because mail scanners fetch links. Confirming raises a ``high`` flag on the account (→ review,
everyone told, ops alerted).
"""

from __future__ import annotations

from datetime import timedelta

from pynamodb.exceptions import UpdateError

from wabaguard import clock
from wabaguard.activity import RequestMeta, record
from wabaguard.config import API_STAGE, settings
from wabaguard.errors import NotFound
from wabaguard.models import ReportToken, condition_failed, iso, live_link, report_pk
from wabaguard.pages import REPORT_BUTTON, html_page
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
    item = live_link(ReportToken, report_pk, token, clock.utcnow())
    if item is None or not still_has_access(item.account_id, item.recipient):
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


def page(token: str) -> tuple[int, str]:
    item = _load(token)
    if item is None:
        return 404, html_page("Link not valid", [NOT_VALID])
    if item.used_at:
        when = clock.for_people(item.used_at)
        return 200, html_page("Already reported", [f"This change was reported {when}. Our team is on it."])
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
            "What to do now: ask your admin to revoke API keys nobody recognises and to check the webhook URL; "
            "once the review ends, every colleague should replace their access token. Our operations team "
            f"will contact you; you can also write to {settings().support_email}.",
        ],
    )
    return 200, page_html, flag is not None
