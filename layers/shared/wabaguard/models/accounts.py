"""The Accounts table (single-table design): accounts, people, phone numbers, their keys and
webhooks, templates, Meta's events and the changes applied at Meta, security-webhook deliveries,
Partner changes, and the risk scan's state, flags and reviews."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)

from wabaguard.models.base import META, AccountsItem, account_pk, phone_pk


class Account(AccountsItem, discriminator="account"):
    """A Client account (a WABA owner) or a Partner (which manages Client accounts)."""

    account_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute(default="client")  # client | partner
    partner_id = UnicodeAttribute(null=True)  # the managing Partner of a Client
    under_review = BooleanAttribute(default=False)
    review_reason = UnicodeAttribute(null=True)
    # Open high flags; the account is under review exactly while this is above zero. Writers
    # condition on the value they read, which is what makes starting and ending reviews race-free.
    open_high_flags = NumberAttribute(null=True)
    # Active admins of the account, moved in the same transactions that add and remove users:
    # removing an admin is conditioned on more than one remaining, so an account always keeps one.
    active_admins = NumberAttribute(null=True)
    waba_id = UnicodeAttribute(null=True)  # Meta's WhatsApp Business Account id (Client accounts)
    # A Partner's ids at Meta, by which Meta's Partner webhooks name it (business portfolio, app)
    meta_business_id = UnicodeAttribute(null=True)
    meta_app_id = UnicodeAttribute(null=True)
    # §Passkeys: the key actions a passkey must approve (names, or ["all"]); none: any factor
    passkey_required_for = UnicodeSetAttribute(null=True)
    created_at = UnicodeAttribute()

    @classmethod
    def key(cls, account_id: str) -> tuple[str, str]:
        return account_pk(account_id), META


class User(AccountsItem, discriminator="user"):
    """A person with access to one account. Removal is a soft delete so the notice can say who."""

    user_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    email = UnicodeAttribute()
    role = UnicodeAttribute()  # admin | member
    status = UnicodeAttribute(default="active")  # active | removed
    token_digest = UnicodeAttribute(null=True)  # none until the user takes up their invite
    # The change whose invite is still open (its Invite items name it): set when a user is added
    # or ops start a recovery, removed when the invite is used.
    invite_ref = UnicodeAttribute(null=True)
    invited_at = UnicodeAttribute(null=True)
    totp_secret_enc = UnicodeAttribute(null=True)  # KMS ciphertext, base64
    totp_pending_enc = UnicodeAttribute(null=True)  # enrolled, not yet confirmed
    totp_enabled = BooleanAttribute(default=False)
    otp_locked_until = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    removed_at = UnicodeAttribute(null=True)
    # §Mail delivery: whether security mail still reaches this address (ok | bouncing | complained);
    # set by SES's events, cleared by the next delivery to the address
    email_status = UnicodeAttribute(null=True)
    email_status_at = UnicodeAttribute(null=True)
    email_status_detail = UnicodeAttribute(null=True)


def _passkeys_prefix(user_id: str) -> str:
    """The sort-key prefix of one user's passkeys: they are read together, with one query."""
    return f"PASSKEY#{user_id}#"


class PhoneNumber(AccountsItem, discriminator="phone"):
    """A WhatsApp phone number of a Client account, with its business profile and webhook."""

    phone_number_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    display = UnicodeAttribute()
    meta_phone_number_id = UnicodeAttribute(null=True)  # Meta's Phone-Number-ID (Graph API calls)
    display_phone_number = UnicodeAttribute(null=True)  # E.164 digits without "+", as Meta's webhooks write it
    profile = JSONAttribute(default=dict)  # type: ignore[arg-type]
    webhook_url = UnicodeAttribute(null=True)

    @classmethod
    def key(cls, phone_number_id: str) -> tuple[str, str]:
        return phone_pk(phone_number_id), META


class ApiKey(AccountsItem, discriminator="api_key"):
    """Metadata of a phone number's API key; the key itself lives only as a digest."""

    key_id = UnicodeAttribute()
    phone_number_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    prefix = UnicodeAttribute()
    token_digest = UnicodeAttribute()
    status = UnicodeAttribute(default="active")  # active | revoked
    created_at = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)


class Link(AccountsItem, discriminator="link"):
    """A pointer for one-to-many reads: an account's phone numbers (``PHONE#``), a Partner's
    managed accounts (``MANAGES#``)."""

    target_id = UnicodeAttribute()
    display = UnicodeAttribute(null=True)


def phone_link_sk(phone_number_id: str) -> str:
    return f"PHONE#{phone_number_id}"


def managed_sk(account_id: str) -> str:
    return f"MANAGES#{account_id}"


# Meta's ids are unique across wabaguard: a Link item per id (pk below, sk META) points at ours,
# written with a does-not-exist condition at onboarding; Meta's webhooks find accounts through them.
def waba_pk(waba_id: str) -> str:
    return f"WABA#{waba_id}"


def meta_phone_pk(meta_phone_number_id: str) -> str:
    return f"METAPHONE#{meta_phone_number_id}"


def display_phone_pk(display_phone_number: str) -> str:
    return f"DISPLAY#{display_phone_number}"


class MessageTemplate(AccountsItem, discriminator="template"):
    template_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    name = UnicodeAttribute()
    language = UnicodeAttribute()
    category = UnicodeAttribute()
    components = JSONAttribute(default=list)  # type: ignore[arg-type]
    status = UnicodeAttribute(default="PENDING")  # Meta's review status (moved by Meta's webhooks)
    meta_template_id = UnicodeAttribute(null=True)  # Meta's id, once the template reached WhatsApp
    status_reason = UnicodeAttribute(null=True)  # Meta's reason for the last status (REJECTED: SCAM, …)
    status_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class MetaEvent(AccountsItem, discriminator="meta_event"):
    """A signal from Meta's account webhooks that the account's users are told of (§Meta webhooks):
    its ``last_change`` takes it to the notifier like any change."""

    event_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    field = UnicodeAttribute()
    event = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)  # display_phone_number
    headline = UnicodeAttribute()
    advice = UnicodeAttribute(null=True)
    facts = JSONAttribute(default=list)  # type: ignore[arg-type]  # [[label, value]]
    event_time = UnicodeAttribute(null=True)  # when Meta says it happened
    received_at = UnicodeAttribute()


def meta_event_sk(at: str, event_id: str) -> str:
    return f"METAEVENT#{at}#{event_id}"


def platform_sk(resource: str, at: str, change_id: str) -> str:
    """Changes of one resource sort together, oldest first: they reach WhatsApp in that order."""
    return f"PLATFORM#{resource}#{at}#{change_id}"


def platform_prefix(resource: str) -> str:
    return f"PLATFORM#{resource}#"


class PlatformChange(AccountsItem, discriminator="platform_change"):
    """An approved change on its way to Meta's Graph API (§Platform): written in the key action's
    own transaction, so a crash after the approval loses nothing; applied by ``platform_apply``.

    ``status``: pending → applied | failed. While pending it sits in the ``by_due`` index at the
    time of its next attempt; a worker claims it by moving ``due_at`` past its lease.
    """

    change_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    action = UnicodeAttribute()  # create_template | update_profile | set_webhook_url
    resource = UnicodeAttribute()  # template:<id> | profile:<phone id> | webhook:<phone id>
    method = UnicodeAttribute(default="POST")
    path = UnicodeAttribute()  # Graph path without the version: /<waba_id>/message_templates
    body = JSONAttribute(default=dict)  # type: ignore[arg-type]  # never holds a secret
    secret_enc = UnicodeAttribute(null=True)  # KMS ciphertext of the webhook's verify_token
    status = UnicodeAttribute(default="pending")
    attempts = NumberAttribute(default=0)
    detail = UnicodeAttribute(null=True)  # Meta's words on the last failure, or the outcome
    result = JSONAttribute(null=True)  # type: ignore[arg-type]  # Meta's answer (template id and status)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)


SECURITY_WEBHOOK = "SECURITY_WEBHOOK"


class SecurityWebhook(AccountsItem, discriminator="security_webhook"):
    """An account's security-events endpoint (§Security webhooks). The signing secret is stored
    KMS-encrypted; after a rotation the previous one keeps signing until ``previous_until``.
    ``status``: active | disabled (410, or a delivery that exhausted its attempts) | removed —
    a removed endpoint keeps its item so that its removal carries a ``last_change`` like any change."""

    account_id = UnicodeAttribute()
    url = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    secret_enc = UnicodeAttribute(null=True)
    previous_secret_enc = UnicodeAttribute(null=True)
    previous_until = UnicodeAttribute(null=True)  # ISO time the previous secret stops signing
    disabled_reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    rotated_at = UnicodeAttribute(null=True)

    @classmethod
    def key(cls, account_id: str) -> tuple[str, str]:
        return account_pk(account_id), SECURITY_WEBHOOK


def delivery_sk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


class WebhookDelivery(AccountsItem, discriminator="webhook_delivery"):
    """One security event on its way to one URL: the endpoint of ``account_id`` (``target`` =
    endpoint), the old webhook URL of a phone number (``target`` = old_url, ``url`` kept here), or
    the endpoint that was listening before it was replaced or removed (``target`` =
    previous_endpoint, its ``url`` and its secret, still KMS-encrypted, kept here: the endpoint
    item forgets both).
    ``payload`` is the exact JSON text signed on every attempt; ``delivery_id`` is its
    ``webhook-id``, the same on every attempt. status: pending → delivered | failed | cancelled."""

    delivery_id = UnicodeAttribute()
    account_id = UnicodeAttribute()  # whose endpoint (or whose phone's old URL)
    subject_account_id = UnicodeAttribute()  # the account the event is about
    target = UnicodeAttribute(default="endpoint")  # endpoint | old_url | previous_endpoint
    url = UnicodeAttribute(null=True)  # not for endpoint (the endpoint's URL is read at each attempt)
    signing_secret_enc = UnicodeAttribute(null=True)  # previous_endpoint: the secret it knows
    event_type = UnicodeAttribute()
    change_id = UnicodeAttribute()
    payload = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    attempts = NumberAttribute(default=0)
    last_status = UnicodeAttribute(null=True)  # the HTTP status, or the failure's class in words
    last_attempt_at = UnicodeAttribute(null=True)
    log = JSONAttribute(default=list)  # type: ignore[arg-type]  # [{at, status}] of the last attempts
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    ttl = TTLAttribute(null=True)


class TimelineEntry(MapAttribute[str, str]):
    """One step of a Partner change: when, what (requested, approved, held, cancelled, submitted,
    expired), by whom, and words."""

    at = UnicodeAttribute()
    event = UnicodeAttribute()
    by = UnicodeAttribute()
    detail = UnicodeAttribute(null=True)

    def as_dict(self) -> dict[str, str | None]:
        return {"at": self.at, "event": self.event, "by": self.by, "detail": self.detail}


class PartnerChangeRequest(AccountsItem, discriminator="partner_change"):
    """A request to hand the WABA to another Partner (§Partner change). status: COOLING_OFF →
    SUBMITTED | CANCELLED | EXPIRED. While COOLING_OFF it sits in ``by_due`` (``due`` =
    partner_change) at the time the scheduled run should look at it: the end of the cooling-off, or
    — while a second admin's approval is missing — the time it expires."""

    request_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    current_partner_id = UnicodeAttribute(null=True)
    target_partner_id = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="COOLING_OFF")
    created_at = UnicodeAttribute()
    requested_by = UnicodeAttribute(null=True)  # email (or API key prefix) of the requester
    requested_by_user_id = UnicodeAttribute(null=True)
    submit_after = UnicodeAttribute(null=True)  # end of the cooling-off
    needs_approval = BooleanAttribute(default=False)
    # Who may approve: the account's admins when the request was made, but the requester. An admin
    # added afterwards (by the requester, or by a Partner admin acting alone) is no second person.
    approvers = UnicodeSetAttribute(null=True)
    approved_by = UnicodeAttribute(null=True)
    approved_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    # The Meta webhooks (their digests) this submitted request explained: one Partner added (its
    # target) and one removed (the Partner it left) at most — never any number of events.
    announced_at = UnicodeAttribute(null=True)  # EventBridge accepted "Partner change submitted"
    explained_added = UnicodeAttribute(null=True)
    explained_removed = UnicodeAttribute(null=True)
    # §Mail delivery: who has a delivered notice of this request (the submission waits for one)
    delivered_to = UnicodeSetAttribute(null=True)
    timeline = ListAttribute(of=TimelineEntry, default=list)  # appended to, never rewritten
    attempts = NumberAttribute(default=0)  # claims by the scheduled run


def partner_change_open_sk() -> str:
    return "PCR_OPEN"


class OpenPartnerChange(AccountsItem, discriminator="partner_change_open"):
    """At most one open Partner change per account: written only if absent with the request,
    deleted in the transaction that ends it."""

    request_id = UnicodeAttribute()


class ScanCheckpoint(AccountsItem, discriminator="scan_checkpoint"):
    """Where the risk scan got to, and the lease that keeps two runs from overlapping."""

    checkpoint_at = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(default=0)
    lease_owner = UnicodeAttribute(null=True)
    runs = NumberAttribute(default=0)
    # account id -> arrival position of its oldest record a run could not judge (read again)
    retry_from = JSONAttribute(default=dict)  # type: ignore[arg-type]
    behind = BooleanAttribute(default=False)  # the last run stopped at its budget: a backlog drains

    @classmethod
    def key(cls, shard: int = 0) -> tuple[str, str]:
        """One checkpoint (and lease) per shard of the activity index: shards are scanned apart."""
        return "SCAN", f"CHECKPOINT#{shard}"


class ReviewCounter(AccountsItem, discriminator="review_counter"):
    """How many accounts are under review, kept in the same transactions that start and end reviews."""

    under_review = NumberAttribute(default=0)

    @classmethod
    def key(cls) -> tuple[str, str]:
        return "STATS", "REVIEWS"


class RiskState(AccountsItem, discriminator="risk_state"):
    """Per-account memory of the risk scan: what it has seen, so each run reads only new records.

    ``recent_ids`` holds the ids of records inside the re-read overlap, so a record read twice is
    counted once; ``version`` makes concurrent updates safe.
    """

    account_id = UnicodeAttribute()
    first_seen_at = UnicodeAttribute()
    state = JSONAttribute(default=dict)  # type: ignore[arg-type]
    recent_ids = JSONAttribute(default=dict)  # type: ignore[arg-type]  # record_id -> at
    version = VersionAttribute()

    @classmethod
    def key(cls, account_id: str) -> tuple[str, str]:
        return account_pk(account_id), "RISK"


class Flag(AccountsItem, discriminator="flag"):
    """A risk finding on an account: rule, severity, a human explanation and its evidence."""

    flag_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    rule = UnicodeAttribute()
    severity = UnicodeAttribute()
    explanation = UnicodeAttribute()
    evidence = JSONAttribute(default=list)  # type: ignore[arg-type]
    subject = JSONAttribute(default=dict)  # type: ignore[arg-type]  # what a false-positive verdict allow-lists
    status = UnicodeAttribute(default="open")  # open | resolved | audit
    audit_only = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    resolved_at = UnicodeAttribute(null=True)
    verdict = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)


def flags_listing(status: str) -> str:
    """A flag's place in ops' cross-account listing (``by_listing``): by status."""
    return f"FLAGS#{status}"


def flag_sk(flag_id: str) -> str:
    return f"FLAG#{flag_id}"


def open_flag_sk(rule: str) -> str:
    return f"OPEN#{rule}"


def flag_pk(flag_id: str) -> str:
    return f"FLAGREF#{flag_id}"


class OpenFlag(AccountsItem, discriminator="open_flag"):
    """Marks a rule as having an open flag on an account, so it is not raised again meanwhile."""

    flag_id = UnicodeAttribute()


# ------------------------------------------------------------------ Credentials table
