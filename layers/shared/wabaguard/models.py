"""PynamoDB models: the one description of every item wabaguard stores.

``tests/unit/test_models_match_template.py`` proves that the tables in ``template.yaml`` (keys,
indexes, TTL attribute, stream) agree with these models. Keys are built by the small functions
below, never by f-strings scattered through the code.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from wabaguard.config import _str
from wabaguard.security import new_id


def _region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def condition_failed(exc: Exception) -> bool:
    """A PynamoDB error caused by a condition, not by DynamoDB failing. A transaction cancelled
    only because another transaction was touching the same item (``TransactionConflict``) is not a
    condition failure: nothing was decided, so the caller must retry or fail, never take it as
    "the item was in another state"."""
    code = getattr(exc, "cause_response_code", None)
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = getattr(exc, "cancellation_reasons", None)
    if not reasons:
        return True  # no reasons reported: the conservative reading (callers fail closed on it)
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)


def transaction_conflict(exc: Exception) -> bool:
    """A transaction cancelled because another one held an item: safe to run again."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    codes = {r.code for r in reasons if r is not None and r.code != "None"}
    return getattr(exc, "cause_response_code", None) == "TransactionCanceledException" and codes == {
        "TransactionConflict"
    }


TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


def transient(exc: Exception) -> bool:
    """DynamoDB was busy or briefly failing (after botocore's own retries): the caller may try again
    later, so an API answers 503 with Retry-After instead of a bare 500."""
    code = getattr(exc, "cause_response_code", None)
    if code is None:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in TRANSIENT_ERRORS or transaction_conflict(exc)


_connections: dict[str | None, Connection] = {}


def transaction() -> TransactWrite:
    """A write transaction across our tables (all in one region). The connection (and its botocore
    client, ~50 ms to build) is made once per container, as the models' own are."""
    region = _region()
    if region not in _connections:
        _connections[region] = Connection(region=region)
    return TransactWrite(connection=_connections[region])


def reset_transactions() -> None:
    """Forget the cached connection (tests that switch endpoints, like the models' ``_connection``)."""
    _connections.clear()


def iso(ts: datetime | float) -> str:
    """UTC ISO 8601 with a Z, second precision: what every response and email shows."""
    if not isinstance(ts, datetime):
        ts = datetime.fromtimestamp(ts, tz=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ key builders
def account_pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def phone_pk(phone_number_id: str) -> str:
    return f"PHONE#{phone_number_id}"


META = "META"


def user_sk(user_id: str) -> str:
    return f"USER#{user_id}"


def api_key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def template_sk(template_id: str) -> str:
    return f"TEMPLATE#{template_id}"


def partner_change_sk(request_id: str) -> str:
    return f"PCR#{request_id}"


def challenge_pk(challenge_id: str) -> str:
    return f"CH#{challenge_id}"


def rate_pk(user_id: str) -> str:
    return f"RATE#{user_id}"


def totp_pk(user_id: str) -> str:
    return f"TOTP#{user_id}"


# ------------------------------------------------------------------ Accounts table
class ChangeRecord(MapAttribute):  # type: ignore[type-arg]
    """Who changed an item, from where, and what kind of change it was.

    Every notifiable write sets a fresh ``last_change`` on the item; the stream filter lets only
    such records reach the notifier, which compares old and new images to say what changed.
    """

    change_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    at = UnicodeAttribute()
    by_user_id = UnicodeAttribute(null=True)
    by_email = UnicodeAttribute(null=True)
    by_key_prefix = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)  # what a system change is about (the flag that starts or ends a review)


def system_change(kind: str, at: datetime, by: str, ref: str | None = None) -> ChangeRecord:
    """A change made by wabaguard itself or by ops (no request behind it): who, what, when."""
    return ChangeRecord(change_id=new_id("chg"), kind=kind, at=iso(at), by_email=by, ref=ref)


class DueIndex(GlobalSecondaryIndex["AccountsItem"]):
    """Work waiting for its time: a sparse index of the items that carry ``due`` (the kind of work:
    ``platform``, …) and ``due_at`` (when). An item leaves it when the work is done (both removed)."""

    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    due = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class AccountsItem(Model):
    """Base of every item in the Accounts table (single-table design, typed by ``item_type``)."""

    class Meta:
        table_name = _str("ACCOUNTS_TABLE")
        region = _region()
        stream_view_type = "NEW_AND_OLD_IMAGES"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = DiscriminatorAttribute()
    last_change = ChangeRecord(null=True)
    due = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    by_due = DueIndex()


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
    token_digest = UnicodeAttribute(null=True)
    totp_secret_enc = UnicodeAttribute(null=True)  # KMS ciphertext, base64
    totp_pending_enc = UnicodeAttribute(null=True)  # enrolled, not yet confirmed
    totp_enabled = BooleanAttribute(default=False)
    otp_locked_until = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    removed_at = UnicodeAttribute(null=True)


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
    explained_added = UnicodeAttribute(null=True)
    explained_removed = UnicodeAttribute(null=True)
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
class Credential(Model):
    """A bearer credential by the SHA-256 of its token: a user's access token or an API key.

    It carries what the authorizer needs in one read: who, which account, which role, and the
    user's OTP failure counter and lockout (each user has exactly one access token).
    """

    class Meta:
        table_name = _str("CREDENTIALS_TABLE")
        region = _region()

    token_digest = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # user | api_key
    account_id = UnicodeAttribute()
    account_kind = UnicodeAttribute(default="client")  # client | partner
    user_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    phone_number_id = UnicodeAttribute(null=True)
    prefix = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")  # active | revoked
    # A token replaced by ``rotate_token``: when, and by which challenge. Its owner's retry of that
    # very request, within 10 minutes, gets the new token again (the first answer may be lost).
    rotated_at = NumberAttribute(null=True)  # epoch seconds
    rotated_by_challenge = UnicodeAttribute(null=True)
    otp_failures = NumberAttribute(default=0)
    otp_locked_until = NumberAttribute(null=True)  # epoch seconds
    created_at = UnicodeAttribute()


# ------------------------------------------------------------------ Challenges table
class ChallengesItem(Model):
    class Meta:
        table_name = _str("CHALLENGES_TABLE")
        region = _region()

    pk = UnicodeAttribute(hash_key=True)
    item_type = DiscriminatorAttribute()
    ttl = TTLAttribute(null=True)


class CancelLink(ChallengesItem, discriminator="pcr_cancel"):
    """One recipient's single-use link to cancel a Partner change; only its digest is the key."""

    account_id = UnicodeAttribute()
    request_id = UnicodeAttribute()
    recipient = UnicodeAttribute()
    used_at = UnicodeAttribute(null=True)


def cancel_link_pk(token_digest: str) -> str:
    return f"PCRCANCEL#{token_digest}"


class Challenge(ChallengesItem, discriminator="challenge"):
    """One OTP challenge, bound to user, account, method, concrete path and body digest."""

    challenge_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    action = UnicodeAttribute()
    method = UnicodeAttribute()
    path = UnicodeAttribute()
    body_sha256 = UnicodeAttribute()
    description = UnicodeAttribute()
    facts = JSONAttribute(null=True)  # type: ignore[arg-type]  # [[label, value]] the approval email shows
    channel = UnicodeAttribute()  # email | totp
    destination = UnicodeAttribute(null=True)
    code_digest = UnicodeAttribute(null=True)
    code_seed = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    attempts = NumberAttribute(default=0)
    used_at = NumberAttribute(null=True)
    last_sent_at = NumberAttribute(null=True)
    sends = NumberAttribute(default=0)
    replay_notified = BooleanAttribute(default=False)
    requester_ip = UnicodeAttribute(null=True)
    requester_user_agent = UnicodeAttribute(null=True)
    # Written in the transaction that consumes the challenge with the action's own writes: the
    # HMAC of the code that was presented, and the answer the action gave (``answer_enc`` KMS-
    # encrypted when it carries a one-time secret), so the same user retrying the same request
    # within 10 minutes gets the same answer and nothing happens twice.
    used_code_digest = UnicodeAttribute(null=True)
    answer = UnicodeAttribute(null=True)
    answer_enc = UnicodeAttribute(null=True)


class ReportToken(ChallengesItem, discriminator="report"):
    """A "this wasn't me" link of one change notice: single use, 7 days, stored as a digest."""

    account_id = UnicodeAttribute()
    change_id = UnicodeAttribute()
    headline = UnicodeAttribute()
    facts = JSONAttribute(null=True)  # type: ignore[arg-type]  # [[label, value]]: the change in full, for the page
    recipient = UnicodeAttribute()
    used_at = UnicodeAttribute(null=True)


class MetaSeen(ChallengesItem, discriminator="meta_seen"):
    """A change of Meta's webhooks already recorded: Meta redelivers for up to 36 hours, so the
    marker lives 48 hours (TTL) and is written in the same transaction as the record."""

    account_id = UnicodeAttribute(null=True)


def meta_seen_pk(digest: str) -> str:
    return f"METASEEN#{digest}"


def report_pk(token_digest: str) -> str:
    return f"REPORT#{token_digest}"


class RateWindow(ChallengesItem, discriminator="rate"):
    """Issue times of a user's recent challenges (a sliding window), optimistic-locked."""

    issued = ListAttribute(of=NumberAttribute, default=list)  # type: ignore[arg-type]
    version = VersionAttribute()


class RecoveryCodes(ChallengesItem, discriminator="recovery_codes"):
    """HMAC digests of a user's single-use authenticator recovery codes, shown once at enrollment.
    A code is deleted from the set, on condition it is there, in the transaction that spends it
    (a separate item, so that spending one can share a transaction with a change to the user)."""

    codes = UnicodeSetAttribute(null=True)


def recovery_pk(user_id: str) -> str:
    return f"RECOVERY#{user_id}"


class FailureWindow(ChallengesItem, discriminator="failure_window"):
    """How many OTP failures without a usable challenge a user had in one window: they are
    recorded as Activity in aggregate (1st, 10th, 20th, …), so they cannot flood the table."""

    failures = NumberAttribute(default=0)


def failure_window_pk(user_id: str, window: int) -> str:
    return f"FAILWIN#{user_id}#{window}"


class RequestWindow(ChallengesItem, discriminator="request_window"):
    """Requests one credential made to the OTP routes in one 5-minute window, refused ones too."""

    requests = NumberAttribute(default=0)


def request_window_pk(principal_id: str, window: int) -> str:
    return f"REQWIN#{principal_id}#{window}"


def redeliver_window_pk(account_id: str, hour: int) -> str:
    return f"REDELIVER#{account_id}#{hour}"


class TotpState(ChallengesItem, discriminator="totp"):
    """The last TOTP time step accepted for a user: a step is never accepted twice."""

    last_step = NumberAttribute(default=0)


# ------------------------------------------------------------------ Activity table
class BucketIndex(GlobalSecondaryIndex["ActivityRecord"]):
    """Reads one time bucket (``T#<yyyyMMddHH>#<shard>``) at a time, oldest first."""

    class Meta:
        index_name = "by_bucket"
        projection = AllProjection()

    bucket = UnicodeAttribute(hash_key=True)
    bucket_sk = UnicodeAttribute(range_key=True)


class ActivityRecord(Model):
    """A usage record or security event (§Activity). Kept 90 days."""

    class Meta:
        table_name = _str("ACTIVITY_TABLE")
        region = _region()

    pk = UnicodeAttribute(hash_key=True)  # ACCOUNT#<account_id>
    sk = UnicodeAttribute(range_key=True)  # <S|U>#<at>#<record_id>
    bucket = UnicodeAttribute()
    bucket_sk = UnicodeAttribute()
    by_bucket = BucketIndex()
    ttl = TTLAttribute(null=True)
    record_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    at = UnicodeAttribute()
    phone_number_id = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    # ``count`` in the item; renamed in Python because Model.count() is a classmethod.
    msg_count = NumberAttribute(null=True, attr_name="count")
    countries = MapAttribute(null=True)  # type: ignore[var-annotated]
    ip = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    action = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)  # the API Gateway request that wrote it (log correlation)


# ------------------------------------------------------------------ Idempotency table
class IdempotencyRecord(Model):
    """The item Powertools Idempotency writes (its DynamoDBPersistenceLayer owns the fields)."""

    class Meta:
        table_name = _str("IDEMPOTENCY_TABLE")
        region = _region()

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
    status = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    AccountsItem,
    Credential,
    ChallengesItem,
    ActivityRecord,
    IdempotencyRecord,
)
