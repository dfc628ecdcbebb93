"""Passkeys (§Passkeys): a user's WebAuthn credentials and the receipts of what they signed
(Accounts table), and the short-lived items around them — registration options and the links to
the approval page (Challenges table)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from wabaguard.models.accounts import _passkeys_prefix
from wabaguard.models.base import AccountsItem
from wabaguard.models.challenges import ChallengesItem


class Passkey(AccountsItem, discriminator="passkey"):
    """One WebAuthn credential of one user: its id, public key (COSE) and sign counter. Removal is
    a soft delete (``status``), so the notice can name it and old receipts stay explainable."""

    passkey_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)  # the owner's, for the notices (who registered, whose was removed)
    name = UnicodeAttribute()
    credential_id = UnicodeAttribute()  # base64url, as WebAuthn's JSON writes it
    public_key = UnicodeAttribute()  # COSE_Key, base64url
    sign_count = NumberAttribute(default=0)  # conditioned on in the transaction that accepts a newer one
    aaguid = UnicodeAttribute(null=True)
    transports = UnicodeAttribute(null=True)  # comma-separated hints for the browser
    backed_up = UnicodeAttribute(null=True)  # "true" | "false": a synced passkey or a device-bound one
    status = UnicodeAttribute(default="active")  # active | removed
    created_at = UnicodeAttribute()
    last_used_at = UnicodeAttribute(null=True)
    removed_at = UnicodeAttribute(null=True)


def passkey_sk(user_id: str, passkey_id: str) -> str:
    return f"{_passkeys_prefix(user_id)}{passkey_id}"


class ApprovalReceipt(AccountsItem, discriminator="approval_receipt"):
    """What a passkey signed for one key action, written in the transaction that made the change:
    enough for anyone to verify the approval offline (§Passkeys, receipts)."""

    change_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    action = UnicodeAttribute()
    challenge_id = UnicodeAttribute()
    method = UnicodeAttribute()
    path = UnicodeAttribute()
    body_digest = UnicodeAttribute()  # hex SHA-256 of the canonical JSON body
    challenge = UnicodeAttribute()  # base64url: the WebAuthn challenge (derived from the request)
    nonce = UnicodeAttribute()  # base64url
    passkey_id = UnicodeAttribute()
    credential_id = UnicodeAttribute()
    public_key = UnicodeAttribute()  # COSE, base64url
    authenticator_data = UnicodeAttribute()  # base64url
    client_data_json = UnicodeAttribute()  # base64url
    signature = UnicodeAttribute()  # base64url
    rp_id = UnicodeAttribute()
    origin = UnicodeAttribute()
    verified_at = UnicodeAttribute()


def receipt_sk(change_id: str) -> str:
    return f"APPROVAL#{change_id}"


class PasskeyOptions(ChallengesItem, discriminator="passkey_options"):
    """The registration challenge a user was given (10 minutes): one open at a time per user, spent
    by the registration it let through."""

    user_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    challenge = UnicodeAttribute()  # base64url
    expires_at = NumberAttribute()


def passkey_options_pk(user_id: str) -> str:
    return f"PKOPTIONS#{user_id}"


class ApprovalLink(ChallengesItem, discriminator="approval_link"):
    """The link to the approval page of one passkey challenge (in the answer and the email), keyed
    by its digest; it lives as long as the challenge."""

    challenge_id = UnicodeAttribute()
    user_id = UnicodeAttribute()


def approval_link_pk(token_digest: str) -> str:
    return f"APPROVE#{token_digest}"
