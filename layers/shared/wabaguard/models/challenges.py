"""The Credentials table (bearer tokens by digest) and the Challenges table: OTP challenges and
the short-lived items around them — links, windows, recovery codes, TOTP steps, Meta markers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)

from wabaguard.config import _str
from wabaguard.models.base import Item, _region
from wabaguard.security import token_digest


class Credential(Item):
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
class ChallengesItem(Item):
    class Meta:
        table_name = _str("CHALLENGES_TABLE")
        region = _region()

    pk = UnicodeAttribute(hash_key=True)
    item_type = DiscriminatorAttribute()
    ttl = TTLAttribute(null=True)


Link = TypeVar("Link", bound=ChallengesItem)


def live_link(model: type[Link], pk_of: Callable[[str], str], token: str, now: datetime) -> Link | None:
    """The item behind an emailed link's token (keyed by the token's digest) while it lives: None
    for garbage, an unknown token or one past its TTL (DynamoDB deletes expired items late)."""
    if not token or len(token) > 100:
        return None
    try:
        item = model.get(pk_of(token_digest(token)), consistent_read=True)
    except model.DoesNotExist:
        return None
    if item.ttl is not None and item.ttl < now:
        return None
    return item


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
    channel = UnicodeAttribute()  # email | totp | passkey
    destination = UnicodeAttribute(null=True)
    code_digest = UnicodeAttribute(null=True)
    code_seed = UnicodeAttribute(null=True)
    mail_message_id = UnicodeAttribute(null=True)  # SES's id of the newest code email (its delivery)
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
    # Channel ``passkey`` (§Passkeys): the random nonce the WebAuthn challenge is derived from, and
    # — once the approval page checked the user's passkey — the assertion it accepted (JSON, for
    # the receipt), which passkey signed and the sign counter it showed.
    passkey_nonce = UnicodeAttribute(null=True)  # base64url
    passkey_assertion = UnicodeAttribute(null=True)
    passkey_id = UnicodeAttribute(null=True)
    passkey_sign_count = NumberAttribute(null=True)
    passkey_verified_at = NumberAttribute(null=True)


class ReportToken(ChallengesItem, discriminator="report"):
    """The "this wasn't me" links of one change's notices: one item for every recipient (issue 26),
    keyed by the digest of the change's part of the links; 7 days; reported once."""

    account_id = UnicodeAttribute()
    change_id = UnicodeAttribute()
    headline = UnicodeAttribute()
    facts = JSONAttribute(null=True)  # type: ignore[arg-type]  # [[label, value]]: the change in full, for the page
    # {digest of a recipient's part of the link: their email}; only digests, as for every token
    recipients = JSONAttribute(null=True)  # type: ignore[arg-type]
    recipient = UnicodeAttribute(null=True)  # a link written before issue 26: one item per recipient
    used_at = UnicodeAttribute(null=True)
    reported_by = UnicodeAttribute(null=True)


class Invite(ChallengesItem, discriminator="invite"):
    """A person's single-use link to their own access token (§People and ops), 7 days, keyed by
    its digest. It works while the user's ``invite_ref`` still names it: a newer invite (ops'
    recovery) or its use retires every older one."""

    account_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    invite_ref = UnicodeAttribute()  # the change that asked for it (user_added, access_recovery)
    purpose = UnicodeAttribute(default="welcome")  # welcome | recovery
    created_at = UnicodeAttribute()
    used_at = UnicodeAttribute(null=True)


def invite_pk(token_digest: str) -> str:
    return f"INVITE#{token_digest}"


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
