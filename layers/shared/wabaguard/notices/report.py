""" "This wasn't me": a link in every change notice, valid 7 days, stored as a digest.

GET shows a plain page (no script) naming the change and asking for confirmation; only POST acts,
because mail scanners fetch links. Confirming raises a ``high`` flag on the account (→ review,
everyone told, ops alerted); a change is reported once, by whichever recipient is first.

One item holds the links of all of a change's notices (``Links``): a link is the change's token
followed by the recipient's own, and the item keeps the digest of the first as its key and of each
recipient's as theirs. A notice to five people used to store the change's facts five times.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
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
CHANGE_PART = len(new_token("wgr"))  # "wgr_" and 192 random bits
RECIPIENT_BYTES = 12  # 96 more bits, told apart only among the recipients of one change


class Links:
    """The report links of one change's notices, stored together at the first one asked for — a
    redelivered record whose notices all went out before writes nothing."""

    def __init__(
        self,
        account_id: str,
        change_id: str,
        headline: str,
        recipients: Iterable[str],
        facts: list[tuple[str, str]] | None = None,
    ) -> None:
        self.account_id, self.change_id, self.headline, self.facts = account_id, change_id, headline, facts
        self._parts = {to: secrets.token_urlsafe(RECIPIENT_BYTES) for to in dict.fromkeys(recipients)}
        self._token: str | None = None

    def url_for(self, recipient: str) -> str:
        """The link of ``recipient`` (one of the change's recipients)."""
        if self._token is None:
            token = new_token("wgr")
            ReportToken(
                report_pk(token_digest(token)),
                account_id=self.account_id,
                change_id=self.change_id,
                headline=self.headline[:500],
                facts=[[str(k)[:100], str(v)[:1000]] for k, v in (self.facts or [])[:30]],
                recipients={token_digest(part): to for to, part in self._parts.items()},
                ttl=clock.utcnow() + VALID_FOR,
            ).save(condition=ReportToken.pk.does_not_exist())
            self._token = token
        return f"{settings().public_base_url}/{API_STAGE}/report/{self._token}{self._parts[recipient]}"


def _load(token: str) -> tuple[ReportToken, str] | None:
    """The change's item and the recipient whose link ``token`` is, while they may still act."""
    if not token or len(token) > 100:
        return None
    item = live_link(ReportToken, report_pk, token[:CHANGE_PART], clock.utcnow())
    if item is None:
        return None
    if len(token) > CHANGE_PART:
        who = (item.recipients or {}).get(token_digest(token[CHANGE_PART:]))
    else:  # a link of one recipient, sent before issue 26 (they live 7 days)
        who = item.recipient if not item.recipients else None
    if not isinstance(who, str) or not still_has_access(item.account_id, who):
        return None
    return item, who


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
    found = _load(token)
    if found is None:
        return 404, html_page("Link not valid", [NOT_VALID])
    item, _ = found
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
    found = _load(token)
    if found is None:
        return 404, html_page("Link not valid", [NOT_VALID]), False
    item, who = found
    now = clock.utcnow()
    try:
        item.update(
            actions=[ReportToken.used_at.set(iso(now)), ReportToken.reported_by.set(who)],
            condition=ReportToken.used_at.does_not_exist(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return 200, html_page("Already reported", ["This change was reported already. Our team is on it."]), False
        raise
    account = load_account(item.account_id)
    explanation = f"{who} reported that this change was not theirs: {item.headline}"
    flag = flags.raise_flag(
        account,
        "reported_by_user",
        "high",
        explanation,
        [{"change_id": item.change_id, "reported_by": who, "ip": meta.ip or "unknown"}],
        now=now,
        raised_by=who,
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
