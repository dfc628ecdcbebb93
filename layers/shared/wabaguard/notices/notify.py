"""Change notices (§Notifications): what changed, who did it, from where, and what to do.

Works on the old and new images of an Accounts item: only an item whose ``last_change`` is new
is a change. Secrets never appear: API keys are shown by name and prefix, tokens not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wabaguard.config import settings
from wabaguard.keyactions.content import template_facts
from wabaguard.keyactions.registry import BY_NOTICE
from wabaguard.models import (
    Account,
    AccountsItem,
    ApiKey,
    Flag,
    MessageTemplate,
    MetaEvent,
    PartnerChangeRequest,
    PhoneNumber,
    PlatformChange,
    SecurityWebhook,
    User,
)
from wabaguard.notices import mailer
from wabaguard.people.access import active_users, managed_accounts
from wabaguard.risk import reviews
from wabaguard.urls import display_url, host_of, without_links

PROFILE_FIELDS = ("about", "address", "description", "email", "vertical", "websites")
SYSTEM_KINDS = frozenset(
    {
        "account_flagged",
        "review_started",
        "review_released",
        "platform_failed",
        "meta_signal",
        "security_webhook_disabled",
        "partner_change_submitted",
        "partner_change_expired",
    }
)
# Every change kind ``describe`` has words for (others get a plain "security-relevant change"
# notice): the registry's test checks that every key action's notice is one of them.
DESCRIBED = frozenset(
    {
        "profile_updated",
        "webhook_url_set",
        "api_key_created",
        "api_key_revoked",
        "template_created",
        "user_added",
        "user_removed",
        "totp_enrolled",
        "token_rotated",
        "totp_reset",
        "otp_locked",
        "partner_change_requested",
        "partner_change_approved",
        "partner_change_cancelled",
        "security_webhook_set",
        "security_webhook_removed",
        "security_webhook_rotated",
        *SYSTEM_KINDS,
    }
)
PLATFORM_WORDS = {
    "create_template": "the new message template",
    "update_profile": "the business profile change",
    "set_webhook_url": "the new webhook URL",
}


@dataclass
class Change:
    """One change of one item, ready to be told to every recipient."""

    change_id: str
    kind: str
    account_id: str
    headline: str  # "The webhook URL of +49 30 1234567 (Acme Shoes) was changed"
    subject: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    notify_partner: bool = False
    highlight: frozenset[str] = frozenset()
    # People told besides the account's active users: a removed user (no longer active), and the
    # users of every Client a Partner manages when someone gains rights over them through it.
    also: tuple[str, ...] = ()
    notify_managed: bool = False
    admins_only: bool = False  # operational notices only admins can act on
    # wabaguard's own findings (flags, reviews) have their own words, not a change's
    paragraphs: list[str] | None = None
    footer: list[str] | None = None


def load_image(image: dict[str, Any] | None) -> AccountsItem | None:
    """An item from a stream image (DynamoDB JSON), typed by its discriminator."""
    if not image:
        return None
    return AccountsItem.from_raw_data(image)


def _fmt(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _phone_display(phone_number_id: str) -> str:
    try:
        return PhoneNumber.get(*PhoneNumber.key(phone_number_id)).display
    except PhoneNumber.DoesNotExist:
        return phone_number_id


def describe(old: AccountsItem | None, new: AccountsItem | None, account: Account) -> Change | None:
    """The change between two images, or None when the item's ``last_change`` did not change."""
    if new is None or new.last_change is None:
        return None
    if old is not None and old.last_change is not None and old.last_change.change_id == new.last_change.change_id:
        return None
    lc = new.last_change
    name = account.name
    kind = lc.kind
    facts: list[tuple[str, str]] = []
    partner = managed = False
    also: tuple[str, ...] = ()
    highlight: frozenset[str] = frozenset()
    if isinstance(new, PhoneNumber) and kind == "profile_updated":
        before = (old.profile if isinstance(old, PhoneNumber) else {}) or {}
        after = new.profile or {}
        for key in PROFILE_FIELDS:
            if before.get(key) != after.get(key):
                facts.append((f"Profile {key}", f"{_fmt(before.get(key))} → {_fmt(after.get(key))}"))
        headline = f"The business profile of {new.display} ({name}) was changed"
        subject = f"Business profile of {new.display} changed"
    elif isinstance(new, PhoneNumber) and kind == "webhook_url_set":
        before_url = old.webhook_url if isinstance(old, PhoneNumber) else None
        facts.append(("Webhook URL", f"{_fmt(display_url(before_url))} → {_fmt(display_url(new.webhook_url))}"))
        old_host, new_host = host_of(before_url), host_of(new.webhook_url)
        if old_host != new_host:
            facts.append(("Webhook host", f"{_fmt(old_host)} → {_fmt(new_host)} (NEW HOST)"))
            highlight = frozenset({"Webhook host"})
        else:
            facts.append(("Webhook host", f"{_fmt(new_host)} (unchanged)"))
        headline = f"The webhook URL of {new.display} ({name}) was set to a new address"
        subject = f"Webhook URL of {new.display} changed to host {new_host}"
    elif isinstance(new, ApiKey) and kind in ("api_key_created", "api_key_revoked"):
        display = _phone_display(new.phone_number_id)
        facts += [("API key", f"{new.name or '(no name)'} · prefix {new.prefix}"), ("Phone number", display)]
        verb = "created" if kind == "api_key_created" else "revoked"
        headline = f"An API key for {display} ({name}) was {verb}"
        subject = f"API key {new.prefix}… {verb} for {display}"
    elif isinstance(new, MessageTemplate):

        facts += template_facts(new.name, new.language, new.category, new.components or [])
        headline = f'A message template "{new.name}" was created for {name}'
        subject = f"Message template {new.name} created for {name}"
    elif isinstance(new, PartnerChangeRequest):
        return _partner_change(new, account)
    elif isinstance(new, User) and kind in ("user_added", "user_removed"):
        facts += [("User", new.email), ("Role", new.role)]
        verb = "added to" if kind == "user_added" else "removed from"
        headline = f"{new.email} was {verb} {name}"
        subject = f"User {new.email} {verb} {name}"
        partner = True  # the managing Partner's admins hear of their Clients' people
        if kind == "user_removed":
            also = (new.email,)  # the removed person is told too: it may be the owner locked out
        elif account.kind == "partner":
            managed = True
            headline = (
                f"{new.email} was added as {new.role} to {name}, the Partner that manages your WhatsApp "
                "Business Account: as a Partner user they can act on the accounts it manages"
            )
            subject = f"{new.email} gained access through your Partner {name}"
    elif isinstance(new, User) and kind == "totp_enrolled":
        facts.append(("User", new.email))
        headline = f"{new.email} enrolled a new authenticator app for {name}"
        subject = f"New authenticator app for {new.email}"
    elif isinstance(new, Flag) or (isinstance(new, Account) and kind in SYSTEM_KINDS):

        told = reviews.notice(
            kind, account, lc.by_email or reviews_by(kind), lc.ref, new if isinstance(new, Flag) else None
        )
        return Change(
            lc.change_id,
            kind,
            account.account_id,
            told["headline"],
            f"[wabaguard] {told['subject']}",
            told["facts"],
            notify_partner=True,
            paragraphs=told["paragraphs"],
            footer=told["footer"],
        )
    elif isinstance(new, PlatformChange) and kind == "platform_failed":
        return _platform_failed(new, account)
    elif isinstance(new, MetaEvent) and kind == "meta_signal":
        return _meta_signal(new, account)
    elif isinstance(new, SecurityWebhook):
        return _security_webhook(old, new, account)
    elif isinstance(new, User) and kind == "token_rotated":
        facts.append(("User", new.email))
        headline = f"The access token of {new.email} ({name}) was replaced; the previous one no longer works"
        subject = f"Access token replaced for {new.email}"
    elif isinstance(new, User) and kind == "totp_reset":
        facts.append(("User", new.email))
        headline = f"wabaguard operations reset the authenticator app of {new.email} ({name}); codes now go by email"
        subject = f"Authenticator reset for {new.email}"
    elif isinstance(new, User) and kind == "otp_locked":
        facts += [("User", new.email), ("Locked until", _fmt(new.otp_locked_until))]
        headline = f"One-time passwords of {new.email} ({name}) were locked after repeated wrong codes"
        subject = f"OTP lockout for {new.email}"
    else:
        facts.append(("Change", kind))
        headline = f"A security-relevant change ({kind}) happened on {name}"
        subject = f"Security change on {name}"
    action = BY_NOTICE.get(kind)
    if action is not None:  # what the registry says this key action was, and how it was approved
        facts.append(("Key action", f"{action.summary} — approved with a one-time password"))
    return Change(
        lc.change_id,
        kind,
        account.account_id,
        headline,
        f"[wabaguard] {subject}",
        facts,
        notify_partner=partner,
        highlight=highlight,
        also=also,
        notify_managed=managed,
    )


def _platform_failed(change: PlatformChange, account: Account) -> Change:
    """WhatsApp refused an approved change: what, Meta's own words, and what to do now."""
    lc = change.last_change
    assert lc is not None
    what = PLATFORM_WORDS.get(change.action, change.action)
    kind, _, ref = change.resource.partition(":")
    facts: list[tuple[str, str]] = [("Change", what), ("Account", account.name)]
    if kind == "template":
        facts.append(("Template", f"{change.body.get('name')} ({change.body.get('language')})"))
    else:
        facts.append(("Phone number", _phone_display(ref)))
    facts += [
        ("WhatsApp's answer", change.detail or "(none)"),
        ("Approved at (UTC)", change.created_at),
        ("Attempts", str(int(change.attempts or 0))),
    ]
    return Change(
        lc.change_id,
        lc.kind,
        account.account_id,
        f"WhatsApp did not apply {what} of {account.name}",
        f"[wabaguard] WhatsApp refused {what} of {account.name}",
        facts,
        paragraphs=[
            f"WhatsApp did not apply {what} of {account.name}, which a user of the account approved with a "
            "one-time password. wabaguard keeps the approved value, but WhatsApp still shows the previous one.",
            "Read WhatsApp's answer below, correct the request, and make the change again (it needs a new "
            "one-time password). Nothing else was changed.",
        ],
        footer=[
            "Every user can read the account's security events with "
            f"GET /v1/accounts/{account.account_id}/security-events.",
        ],
    )


def _meta_signal(event: MetaEvent, account: Account) -> Change:
    """What Meta reported about the account, in words: which number, what, when, what to do."""
    lc = event.last_change
    assert lc is not None
    facts = [(str(k), str(v)) for k, v in (event.facts or [])]
    return Change(
        lc.change_id,
        lc.kind,
        account.account_id,
        f"WhatsApp reported: {event.headline}",
        f"[wabaguard] WhatsApp reported for {account.name}: {event.headline}"[:200],
        [("Account", account.name), *facts],
        notify_partner=True,
        paragraphs=[
            f"Meta, which runs WhatsApp, reported a security-relevant event for {account.name}: {event.headline}.",
            *([event.advice] if event.advice else []),
        ],
        footer=[
            "This notice comes from WhatsApp's own account webhooks, not from a change made in wabaguard. "
            "Every user can read the account's security events with "
            f"GET /v1/accounts/{account.account_id}/security-events.",
        ],
    )


def _security_webhook(old: AccountsItem | None, new: SecurityWebhook, account: Account) -> Change:
    """The account's security-events endpoint was set, removed, re-keyed — or disabled by wabaguard
    because it stopped accepting events (then only admins are told: only they can fix it)."""
    lc = new.last_change
    assert lc is not None
    before = old.url if isinstance(old, SecurityWebhook) and old.status != "removed" else None
    name = account.name
    if lc.kind == "security_webhook_disabled":
        return Change(
            lc.change_id,
            lc.kind,
            account.account_id,
            f"Security events of {name} are no longer sent to {display_url(new.url)}",
            f"[wabaguard] Security webhook of {name} disabled",
            [("Security webhook", _fmt(display_url(new.url))), ("Why", _fmt(new.disabled_reason))],
            admins_only=True,
            paragraphs=[
                f"wabaguard stopped sending the security events of {name} to its security webhook "
                f"{display_url(new.url)}: {new.disabled_reason}.",
                "Events raised from now on are not sent there. Fix the receiver, then register it again with "
                f"PUT /v1/accounts/{account.account_id}/security-webhook (a key action; it shows a new secret), "
                "and send the missed events again with POST …/security-webhook/deliveries/{id}/redeliver.",
            ],
            footer=[f"Recent deliveries: GET /v1/accounts/{account.account_id}/security-webhook/deliveries."],
        )
    facts: list[tuple[str, str]] = []
    highlight: frozenset[str] = frozenset()
    if lc.kind == "security_webhook_set":
        facts.append(("Security webhook", f"{_fmt(display_url(before))} → {_fmt(display_url(new.url))}"))
        if host_of(before) != host_of(new.url):
            facts.append(("Security webhook host", f"{_fmt(host_of(before))} → {_fmt(host_of(new.url))} (NEW HOST)"))
            highlight = frozenset({"Security webhook host"})
        facts.append(("Signing secret", "a new one was issued (shown once, to the person who made the change)"))
        headline = f"The security events of {name} are now sent to {display_url(new.url)}"
        subject = f"Security webhook of {name} set to host {host_of(new.url)}"
    elif lc.kind == "security_webhook_removed":
        facts.append(("Security webhook", f"{_fmt(display_url(before))} → (none)"))
        headline = f"The security webhook of {name} was removed: its security events are no longer sent anywhere"
        subject = f"Security webhook of {name} removed"
    else:
        facts += [
            ("Security webhook", _fmt(display_url(new.url))),
            ("Previous secret signs until (UTC)", _fmt(new.previous_until)),
        ]
        headline = f"The signing secret of the security webhook of {name} was replaced"
        subject = f"Security webhook secret replaced for {name}"
    return Change(
        lc.change_id, lc.kind, account.account_id, headline, f"[wabaguard] {subject}", facts, highlight=highlight
    )


def _partner_change(req: PartnerChangeRequest, account: Account) -> Change:
    """Each step of a Partner change, told to every user and the current Partner's admins: the
    request (with a cancel link each), the approval, the cancellation, the submission, the expiry."""
    lc = req.last_change
    assert lc is not None
    name = account.name
    facts = [
        ("Current Partner", _fmt(req.current_partner_id)),
        ("Requested Partner", req.target_partner_id),
        ("Requested by", _fmt(req.requested_by)),
        ("Submitted after (UTC)", _fmt(req.submit_after)),
    ]
    if req.reason:
        facts.append(("Reason given (the requester's words, links removed)", f'"{without_links(req.reason)}"'))
    if req.needs_approval:
        facts.append(("Second admin's approval", f"given by {req.approved_by}" if req.approved_by else "needed"))
    steps = {
        "partner_change_requested": (
            f"A request to move {name} to Partner {req.target_partner_id} was made; it is submitted after "
            f"{req.submit_after} (UTC) unless someone cancels it",
            f"Partner change requested for {name} — cancel it if unexpected",
        ),
        "partner_change_approved": (
            f"{req.approved_by} approved moving {name} to Partner {req.target_partner_id}",
            f"Partner change for {name} approved by a second admin",
        ),
        "partner_change_cancelled": (
            f"The request to move {name} to Partner {req.target_partner_id} was cancelled by {lc.by_email}",
            f"Partner change for {name} cancelled",
        ),
        "partner_change_submitted": (
            f"The request to move {name} to Partner {req.target_partner_id} was submitted after its cooling-off",
            f"Partner change for {name} submitted",
        ),
        "partner_change_expired": (
            f"The request to move {name} to Partner {req.target_partner_id} expired: no other admin approved it",
            f"Partner change for {name} expired",
        ),
    }
    headline, subject = steps.get(
        lc.kind, (f"The Partner change of {name} moved on ({lc.kind})", f"Partner change of {name}")
    )
    if lc.kind in SYSTEM_KINDS:
        words = (
            "Nothing more can stop it in wabaguard; if it was not expected, write to your provider now."
            if lc.kind == "partner_change_submitted"
            else "Nothing was submitted. A new request needs a new one-time password and starts a new cooling-off."
        )
        return Change(
            lc.change_id,
            lc.kind,
            account.account_id,
            headline,
            f"[wabaguard] {subject}",
            facts,
            notify_partner=True,
            paragraphs=[f"{headline}.", words],
            footer=[f"Its timeline: GET /v1/accounts/{account.account_id}/partner-change-requests."],
        )
    return Change(
        lc.change_id, lc.kind, account.account_id, headline, f"[wabaguard] {subject}", facts, notify_partner=True
    )


def reviews_by(kind: str) -> str:
    return "wabaguard ops" if kind == "review_released" else "wabaguard monitoring"


def actor_facts(item: AccountsItem) -> list[tuple[str, str]]:
    lc = item.last_change
    assert lc is not None
    who = lc.by_email or (f"API key {lc.by_key_prefix}" if lc.by_key_prefix else "wabaguard")
    return [
        ("Changed by", who),
        ("IP address", lc.ip or "unknown"),
        ("User agent", lc.user_agent or "unknown"),
        ("Country", lc.country or "unknown"),
        ("Time (UTC)", lc.at),
    ]


def recipients(account: Account, change: Change) -> list[str]:
    """Every active user of the account, plus the managing Partner's admins where it matters, the
    people a change concerns who are no longer users, and — when someone gains rights through a
    Partner — the users of every Client that Partner manages."""
    emails = [u.email for u in active_users(account.account_id) if u.role == "admin" or not change.admins_only]
    if change.notify_partner and account.partner_id:
        emails += [u.email for u in active_users(account.partner_id) if u.role == "admin"]
    emails += change.also
    if change.notify_managed and account.kind == "partner":
        for client in managed_accounts(account.account_id):
            emails += [u.email for u in active_users(client.account_id)]
    seen: set[str] = set()
    return [e for e in emails if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]


def gets_report_link(account: Account, change: Change, recipient: str) -> bool:
    """A "this wasn't me" link goes to people who can still act on the account: not to a removed
    user (it would be dead on arrival) nor to users of the Clients a Partner manages."""
    if change.kind in SYSTEM_KINDS:
        return False
    if recipient in change.also or change.notify_managed:
        return recipient in {u.email for u in active_users(account.account_id)}
    return True


def render(
    to: str, change: Change, item: AccountsItem, report_url: str | None = None, cancel_url: str | None = None
) -> mailer.Email:
    """The notice for one recipient. ``report_url`` is its own "this wasn't me" link, ``cancel_url``
    its own link to cancel a Partner change in its cooling-off."""
    cfg = settings()
    links = [("Cancel this Partner change (the link works once)", cancel_url)] if cancel_url else []
    if report_url:
        links.append(("Report this change — it was not me (the link works once, for 7 days)", report_url))
    if change.paragraphs is not None:  # wabaguard's own finding: no actor, no "no action needed"
        return mailer.render(
            to,
            change.subject,
            change.paragraphs,
            change.facts,
            footer=[*(change.footer or []), f"Notice id: {change.change_id}"],
        )
    return mailer.render(
        to,
        change.subject,
        [f"{change.headline}.", "If you or a colleague made this change, no action is needed."],
        [*change.facts, *actor_facts(item)],
        highlight=change.highlight,
        links=links,
        footer=[
            "If this change was not expected, act now: revoke the API keys of your phone numbers, have every "
            "user replace their access token (POST /v1/me/tokens), check the webhook URL, and write to "
            f"{cfg.support_email}. Every user can read the account's security events with "
            f"GET /v1/accounts/{change.account_id}/security-events.",
            f"Change id: {change.change_id}",
        ],
    )
