"""Change notices (§Notifications): what changed, who did it, from where, and what to do.

Works on the old and new images of an Accounts item: only an item whose ``last_change`` is new
is a change. Secrets never appear: API keys are shown by name and prefix, tokens not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wabaguard import clock
from wabaguard.config import settings
from wabaguard.keyactions.facts import template_facts
from wabaguard.keyactions.registry import BY_NOTICE
from wabaguard.models import (
    Account,
    AccountsItem,
    ApiKey,
    Flag,
    MailFailure,
    MessageTemplate,
    MetaEvent,
    PartnerChangeRequest,
    Passkey,
    PhoneNumber,
    PlatformChange,
    SecurityWebhook,
    User,
    WabaDrift,
)
from wabaguard.notices import mailer
from wabaguard.people.access import active_users, managed_accounts, partner_name
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
        "waba_drift",
        "notice_undeliverable",
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
        "access_recovery",
        "access_recovered",
        "user_email_changed",
        "own_email_changed",
        "passkey_registered",
        "passkey_removed",
        "security_policy_set",
        *SYSTEM_KINDS,
    }
)
# Changes to one user's own access, told alike: the user, then (headline, subject) in words.
USER_NOTICES = {
    "totp_enrolled": ("{email} enrolled a new authenticator app for {name}", "New authenticator app for {email}"),
    "token_rotated": (
        "The access token of {email} ({name}) was replaced; the previous one no longer works",
        "Access token replaced for {email}",
    ),
    "totp_reset": (
        "wabaguard operations reset the authenticator app of {email} ({name}); codes now go by email",
        "Authenticator reset for {email}",
    ),
    "access_recovery": (
        "wabaguard operations sent {email} a recovery invite for {name}; once it is used, their current access "
        "token stops working",
        "Access recovery started for {email}",
    ),
    "access_recovered": (
        "{email} took up a recovery invite for {name}: they have a new access token and the old one no longer works",
        "Access recovered for {email}",
    ),
}
APPROVED_WITH = {
    "passkey": "approved with a passkey, which signed this exact request",
    "totp": "approved with an authenticator app code",
    "recovery_code": "approved with a recovery code",
    "code": "approved with a one-time password",
}


def _policy_words(names: set[str] | None) -> str:
    if not names:
        return "no key action"
    return "every key action" if "all" in names else ", ".join(sorted(names))


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
    exclude: tuple[str, ...] = ()  # never to these (the address a notice just bounced from)
    # wabaguard's own findings (flags, reviews) have their own words, not a change's
    paragraphs: list[str] | None = None
    footer: list[str] | None = None
    integrators: list[str] | None = None  # API hints, kept apart from what a person reads
    account_name: str = ""


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
    change = _describe(old, new, account)
    if change is not None:
        change.account_name = account.name
    return change


def _describe(old: AccountsItem | None, new: AccountsItem | None, account: Account) -> Change | None:
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
            integrators=told.get("integrators"),
        )
    elif isinstance(new, PlatformChange) and kind == "platform_failed":
        return _platform_failed(new, account)
    elif isinstance(new, MetaEvent) and kind == "meta_signal":
        return _meta_signal(new, account)
    elif isinstance(new, WabaDrift) and kind == "waba_drift":
        return _waba_drift(new, account)
    elif isinstance(new, MailFailure) and kind == "notice_undeliverable":
        return _undeliverable(new, account)
    elif isinstance(new, SecurityWebhook):
        return _security_webhook(old, new, account)
    elif isinstance(new, User) and kind in ("user_email_changed", "own_email_changed"):
        before = old.email if isinstance(old, User) else None
        facts += [("User", f"{_fmt(before)} → {new.email}"), ("Role", new.role)]
        headline = f"The email address of {before or new.user_id} ({name}) was changed to {new.email}"
        subject = f"Email address of {before or new.user_id} changed"
        highlight = frozenset({"User"})
        also = (before,) if before else ()  # the old address hears of it: it may be the owner locked out
    elif isinstance(new, User) and kind in USER_NOTICES:
        facts.append(("User", new.email))
        headline_words, subject_words = USER_NOTICES[kind]
        headline = headline_words.format(email=new.email, name=name)
        subject = subject_words.format(email=new.email, name=name)
    elif isinstance(new, Passkey) and kind in ("passkey_registered", "passkey_removed"):
        owner = new.email or new.user_id
        facts += [("User", owner), ("Passkey", new.name)]
        if kind == "passkey_registered":
            facts.append(("Kind", "synced passkey" if new.backed_up == "true" else "bound to one device"))
            headline = f'{owner} registered a new passkey "{new.name}" for {name}: it can approve key actions'
            subject = f"New passkey for {owner}"
        else:
            by = "" if lc.by_email == owner else f" (removed by {lc.by_email})"
            headline = f'The passkey "{new.name}" of {owner} ({name}) was removed{by}: it approves nothing any more'
            subject = f"Passkey removed for {owner}"
    elif isinstance(new, Account) and kind == "security_policy_set":
        before = old.passkey_required_for if isinstance(old, Account) else None
        facts += [
            ("Passkey required for (before)", _policy_words(before)),
            ("Passkey required for (now)", _policy_words(new.passkey_required_for)),
        ]
        required = _policy_words(new.passkey_required_for)
        headline = f"The security policy of {name} was changed: a passkey is now required for {required}"
        subject = f"Security policy of {name} changed"
        highlight = frozenset({"Passkey required for (now)"})
    elif isinstance(new, User) and kind == "otp_locked":
        facts += [("User", new.email), ("Locked until", clock.for_people(new.otp_locked_until))]
        headline = f"One-time passwords of {new.email} ({name}) were locked after repeated wrong codes"
        subject = f"OTP lockout for {new.email}"
    else:
        facts.append(("Change", kind))
        headline = f"A security-relevant change ({kind}) happened on {name}"
        subject = f"Security change on {name}"
    action = BY_NOTICE.get(kind)
    if action is not None:  # what the registry says this key action was, and how it was approved
        facts.append(
            ("Key action", f"{action.summary} — {APPROVED_WITH.get(lc.approved_with or 'code', APPROVED_WITH['code'])}")
        )
        if lc.approved_with == "passkey":
            facts.append(("Approval receipt", f"GET /v1/accounts/{account.account_id}/approvals/{lc.change_id}"))
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
        ("Approved", clock.for_people(change.created_at)),
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
        integrators=[f"The account's security events: GET /v1/accounts/{account.account_id}/security-events."],
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
        footer=["This notice comes from WhatsApp's own account webhooks, not from a change made in wabaguard."],
        integrators=[f"The account's security events: GET /v1/accounts/{account.account_id}/security-events."],
    )


MAIL_KINDS = {
    "code": "a one-time password",
    "approval": "a passkey approval link",
    "notice": "a security notice",
    "invite": "an invite (their access to wabaguard)",
    "replay": "a warning that a used code came back",
    "lockout": "a lockout warning",
    "recovery_code": "a warning that a recovery code was used",
}
MAIL_STATUS = {
    "bounced": "bounced (the address does not accept mail)",
    "complained": "was marked as spam by the recipient",
    "rejected": "was rejected by Amazon SES",
}


def _undeliverable(failure: MailFailure, account: Account) -> Change:
    """A security email did not arrive: the other admins and the Partner's admins hear who missed
    what — never the address it bounced from."""
    lc = failure.last_change
    assert lc is not None
    what = MAIL_KINDS.get(failure.kind, "a security email")
    facts = [
        ("Recipient", failure.recipient),
        ("Email", f"{what}: {failure.subject or '(no subject)'}"),
        ("What happened", MAIL_STATUS.get(failure.status, failure.status)),
        ("Details", _fmt(failure.detail)),
        ("When", clock.for_people(failure.at)),
    ]
    return Change(
        lc.change_id,
        lc.kind,
        account.account_id,
        f"Security mail to {failure.recipient} ({account.name}) did not arrive",
        f"[wabaguard] Security mail to {failure.recipient} did not arrive"[:200],
        facts,
        notify_partner=True,
        admins_only=True,
        exclude=(failure.recipient,),
        paragraphs=[
            f"wabaguard sent {what} to {failure.recipient}, a user of {account.name}, and it "
            f"{MAIL_STATUS.get(failure.status, failure.status)}. They did not get it, and they will not hear of "
            "key changes on the account until their address works again.",
            "If the address is wrong or the person left, set a working address for them, or remove them. If "
            "nobody expected their address to change, someone may have changed it to lock them out.",
        ],
        integrators=[
            f"Set a user's address: PUT /v1/accounts/{account.account_id}/users/{{user_id}}/email (a key action); "
            f"users and their email_status: GET /v1/accounts/{account.account_id}/users."
        ],
    )


AREA_WORDS = {
    "app": "App subscribed to the WABA",
    "app_override": "App's callback override",
    "phone": "Phone number",
    "phone_webhook": "Phone number's webhook override",
    "phone_name": "Display name",
    "phone_status": "Phone number status",
    "user": "Person with access",
    "user_tasks": "What they may do",
    "template": "Message template",
}


def _waba_drift(drift: WabaDrift, account: Account) -> Change:
    """The WABA was changed at Meta, not through wabaguard: what, before → after, what to do."""
    lc = drift.last_change
    assert lc is not None
    diffs = [d for d in (drift.differences or []) if isinstance(d, dict)]
    facts: list[tuple[str, str]] = [("Account", account.name), ("WhatsApp Business Account", drift.waba_id)]
    for d in diffs[:20]:
        label = AREA_WORDS.get(str(d.get("area")), str(d.get("area")))
        facts.append((f"{label} ({d.get('change')})", f"{_fmt(d.get('before'))} → {_fmt(d.get('after'))}"))
    facts += [
        ("Severity", str(drift.severity)),
        ("Compared with", clock.for_people(drift.previous_at) if drift.previous_at else "(the first read)"),
        ("Found", clock.for_people(drift.found_at)),
    ]
    said = "; ".join(str(d.get("words")) for d in diffs[:5]) + ("; and more" if len(diffs) > 5 else "")
    paragraphs = [
        f"The WhatsApp Business Account of {account.name} was changed at Meta, not through wabaguard: {said}.",
        "No change approved in wabaguard explains it. Someone with access to the business at Meta (Business "
        "Manager, WhatsApp Manager or the Graph API) made it.",
        "If nobody in your business did this, remove what you do not recognise in Meta Business Settings, "
        "change the password and two-step verification of every Meta login with access, and contact your provider.",
    ]
    if drift.severity == "high":
        paragraphs.append(
            "Because this could let someone else read or send your messages, wabaguard pauses key actions on the "
            "account until its operations team has looked at it."
        )
    return Change(
        lc.change_id,
        lc.kind,
        account.account_id,
        f"The WhatsApp Business Account of {account.name} was changed at Meta, outside wabaguard",
        f"[wabaguard] Changed at Meta, not through wabaguard: {account.name}"[:200],
        facts,
        notify_partner=True,
        paragraphs=paragraphs,
        footer=[
            "wabaguard reads your WhatsApp Business Account at Meta regularly and compares it with what it approved."
        ],
        integrators=[f"The account's security events: GET /v1/accounts/{account.account_id}/security-events."],
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
                "Events raised from now on are not sent there. Ask the team that runs the receiver to fix it, "
                "then register it again (that needs a one-time password and shows a new secret) and send the "
                "missed events again.",
            ],
            integrators=[
                f"Register again: PUT /v1/accounts/{account.account_id}/security-webhook; recent deliveries: "
                f"GET /v1/accounts/{account.account_id}/security-webhook/deliveries; resend one: "
                "POST …/security-webhook/deliveries/{delivery_id}/redeliver."
            ],
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
            ("Previous secret signs until", clock.for_people(new.previous_until)),
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
    current, target = partner_name(req.current_partner_id), partner_name(req.target_partner_id)
    facts = [
        ("Current Partner", current),
        ("Requested Partner", target),
        ("Requested by", _fmt(req.requested_by)),
        ("Requested", clock.for_people(req.created_at)),
        ("Submitted after", clock.for_people(req.submit_after)),
    ]
    if req.reason:
        facts.append(("Reason given (the requester's words, links removed)", f'"{without_links(req.reason)}"'))
    if req.needs_approval:
        facts.append(("Second admin's approval", f"given by {req.approved_by}" if req.approved_by else "needed"))
    steps = {
        "partner_change_requested": (
            f"A request to move {name} to the Partner {target} was made; it is submitted "
            f"{clock.for_people(req.submit_after)} unless someone cancels it",
            f"Partner change requested for {name} — cancel it if unexpected",
        ),
        "partner_change_approved": (
            f"{req.approved_by} approved moving {name} to the Partner {target}",
            f"Partner change for {name} approved by a second admin",
        ),
        "partner_change_cancelled": (
            f"The request to move {name} to the Partner {target} was cancelled by {lc.by_email}",
            f"Partner change for {name} cancelled",
        ),
        "partner_change_submitted": (
            f"The request to move {name} to the Partner {target} was submitted after its cooling-off",
            f"Partner change for {name} submitted",
        ),
        "partner_change_expired": (
            f"The request to move {name} to the Partner {target} expired: {_expired_why(req)}",
            f"Partner change for {name} expired",
        ),
    }
    headline, subject = steps.get(
        lc.kind, (f"The Partner change of {name} moved on ({lc.kind})", f"Partner change of {name}")
    )
    if lc.kind in SYSTEM_KINDS:
        words = (
            f"Your provider now moves the WhatsApp Business Account to {target}. Nothing more can stop it in "
            "wabaguard; if it was not expected, write to your provider now."
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
            integrators=[f"Its timeline: GET /v1/accounts/{account.account_id}/partner-change-requests."],
        )
    return Change(
        lc.change_id, lc.kind, account.account_id, headline, f"[wabaguard] {subject}", facts, notify_partner=True
    )


def _expired_why(req: PartnerChangeRequest) -> str:
    """Why a request expired, as its timeline says (no approval, or no notice delivered)."""
    last = (req.timeline or [])[-1:]
    if last and last[0].event == "expired" and last[0].detail:
        return str(last[0].detail)
    return "no other admin approved it"


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
        ("Time", clock.for_people(lc.at)),
    ]


def recipients(account: Account, change: Change) -> list[str]:
    """Every active user of the account, plus the managing Partner's admins where it matters, the
    people a change concerns who are no longer users, and — when someone gains rights through a
    Partner — the users of every Client that Partner manages."""
    emails = [u.email for u in active_users(account.account_id) if u.role == "admin" or not change.admins_only]
    if change.notify_partner and account.partner_id:
        emails += [u.email for u in active_users(account.partner_id) if u.role == "admin"]
    emails += change.also
    if change.exclude:
        gone = {e.lower() for e in change.exclude}
        emails = [e for e in emails if e.lower() not in gone]
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
    links = [("Cancel this Partner change", cancel_url)] if cancel_url else []
    if report_url:
        links.append(("This was not me — report it", report_url))
    why = (
        f"You receive this because you have access to {change.account_name or 'this account'} on wabaguard "
        "(as one of its users, or as an admin of the Partner that manages it). Security notices cannot be "
        "turned off."
    )
    if change.paragraphs is not None:  # wabaguard's own finding: no actor, no "no action needed"
        return mailer.render(
            to,
            change.subject,
            change.paragraphs,
            change.facts,
            footer=change.footer,
            integrators=change.integrators,
            why=why,
            reference=f"notice {change.change_id}",
        )
    link_words = []
    if cancel_url:
        link_words.append("The cancel link works once, while the request waits.")
    if report_url:
        link_words.append(
            "The report link works once, for 7 days: it pauses every key action on the account at once and "
            "alerts our operations team."
        )
    return mailer.render(
        to,
        change.subject,
        [f"{change.headline}.", "If you or a colleague made this change, no action is needed."],
        [*change.facts, *actor_facts(item)],
        highlight=change.highlight,
        links=links,
        footer=[
            *link_words,
            "If you did not expect this change, report it, then ask an admin of your account to revoke API keys "
            "nobody recognises, to check the webhook URL, and to have every colleague replace their access "
            f"token. Write to {cfg.support_email} if anything is unclear.",
        ],
        integrators=[
            f"The account's security events: GET /v1/accounts/{change.account_id}/security-events; "
            "replace your own access token: POST /v1/me/tokens."
        ],
        why=why,
        reference=f"change {change.change_id}",
    )
