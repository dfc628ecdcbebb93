"""Receipts of passkey approvals (§Passkeys): what the passkey signed, kept with the change (in the
transaction that makes it) and served to the account's users, enough for anyone to verify the
approval offline — the request, the nonce, the WebAuthn challenge derived from both, and the
assertion with the public key that checks it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from wabaguard.config import API_STAGE, settings
from wabaguard.errors import NotFound, OtpDenied
from wabaguard.models import (
    ApprovalReceipt,
    Challenge,
    Passkey,
    account_pk,
    challenge_pk,
    iso,
    passkey_sk,
    receipt_sk,
)
from wabaguard.otp.checks import Approval
from wabaguard.passkeys.binding import approval_challenge, b64url, from_b64url
from wabaguard.people.access import require_account, valid_id
from wabaguard.people.principal import Principal


def path_of(account_id: str, change_id: str) -> str:
    return f"/{API_STAGE}/accounts/{account_id}/approvals/{change_id}"


def record_into(
    tx: TransactWrite,
    approval: Approval,
    principal: Principal,
    account_id: str,
    change_id: str,
    t: float,
    counter: bool = True,
) -> str:
    """Add the passkey's new sign counter (conditioned on the old one: a parallel or cloned use
    loses) and the receipt to the key action's transaction; returns the receipt's path.
    ``counter`` False: the action itself writes this passkey (removing it) and checks it is live."""
    ch = Challenge.get(challenge_pk(approval.challenge_id), consistent_read=True)
    text = approval.inline_assertion or ch.passkey_assertion
    user_id = principal.user_id or ""
    try:
        passkey = Passkey.get(account_pk(principal.account_id), passkey_sk(user_id, approval.passkey_id or ""))
    except Passkey.DoesNotExist:
        passkey = None
    if not text or passkey is None or passkey.status != "active" or not ch.passkey_nonce:
        raise OtpDenied("otp_invalid", "the passkey that approved this request is gone; ask for a new challenge")
    data = json.loads(text)
    response = data["response"]
    client_data = json.loads(from_b64url(response["clientDataJSON"]))
    new = int(approval.passkey_sign_count or 0)
    if counter:
        older = (Passkey.sign_count < new) if new > 0 else (Passkey.sign_count == 0)
        tx.update(
            passkey,
            actions=[Passkey.sign_count.set(new), Passkey.last_used_at.set(iso(t))],
            condition=(Passkey.status == "active") & older,
        )
    challenge = approval_challenge(ch.challenge_id, ch.method, ch.path, ch.body_sha256, from_b64url(ch.passkey_nonce))
    receipt = ApprovalReceipt(
        account_pk(account_id),
        receipt_sk(change_id),
        change_id=change_id,
        account_id=account_id,
        user_id=user_id,
        action=ch.action,
        challenge_id=ch.challenge_id,
        method=ch.method,
        path=ch.path,
        body_digest=ch.body_sha256,
        challenge=b64url(challenge),
        nonce=ch.passkey_nonce,
        passkey_id=passkey.passkey_id,
        credential_id=passkey.credential_id,
        public_key=passkey.public_key,
        authenticator_data=str(response["authenticatorData"]),
        client_data_json=str(response["clientDataJSON"]),
        signature=str(response["signature"]),
        rp_id=settings().passkey_rp_id,
        origin=str(client_data.get("origin", "")),
        verified_at=iso(datetime.fromtimestamp(t, tz=UTC)),
    )
    tx.save(receipt, condition=ApprovalReceipt.sk.does_not_exist())
    return path_of(account_id, change_id)


def view(receipt: ApprovalReceipt) -> dict[str, Any]:
    return {
        "change_id": receipt.change_id,
        "action": receipt.action,
        "user_id": receipt.user_id,
        "request": {"method": receipt.method, "path": receipt.path, "body_digest": receipt.body_digest},
        "challenge_id": receipt.challenge_id,
        "challenge": receipt.challenge,
        "nonce": receipt.nonce,
        "passkey_id": receipt.passkey_id,
        "credential_id": receipt.credential_id,
        "public_key": receipt.public_key,
        "authenticator_data": receipt.authenticator_data,
        "client_data_json": receipt.client_data_json,
        "signature": receipt.signature,
        "rp_id": receipt.rp_id,
        "origin": receipt.origin,
        "verified_at": receipt.verified_at,
    }


def get(principal: Principal, account_id: str, change_id: str) -> dict[str, Any]:
    """``GET /v1/accounts/{account_id}/approvals/{change_id}``: for the account's users (and its
    Partner's); 404 for a change without a passkey approval, like one of another tenant."""
    require_account(principal, account_id, user_only=True)
    if not valid_id(change_id):
        raise NotFound("no such approval")
    try:
        return view(ApprovalReceipt.get(account_pk(account_id), receipt_sk(change_id)))
    except ApprovalReceipt.DoesNotExist:
        raise NotFound(f"no passkey approval is recorded for change {change_id}") from None
