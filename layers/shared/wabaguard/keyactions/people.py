"""People and their credentials: adding and removing users, authenticator apps, access tokens —
and the non-key writes beside them (confirming an authenticator, ops resetting one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyotp
from pynamodb.exceptions import UpdateError

from wabaguard import activity, clock, partner_change
from wabaguard.activity import RequestMeta
from wabaguard.aws import kms_decrypt, kms_encrypt, pepper
from wabaguard.errors import Conflict, Forbidden, InvalidRequest, NotFound, UnderReview
from wabaguard.keyactions.work import Outcome, Prepared, Work
from wabaguard.models import (
    Account,
    Credential,
    Passkey,
    RecoveryCodes,
    User,
    condition_failed,
    iso,
    recovery_pk,
    system_change,
)
from wabaguard.otp import totp
from wabaguard.passkeys import store
from wabaguard.people.access import active_users, load_account, load_user
from wabaguard.people.invites import invited_user
from wabaguard.people.principal import Principal, change_record
from wabaguard.people.users import user_credential
from wabaguard.security import RECOVERY_CODES, new_recovery_code, recovery_digest


def words_add_user(prep: Prepared) -> str:
    return f"Add {prep.body.email} as {prep.body.role} of {prep.account.name}"


def words_remove_user(prep: Prepared) -> str:
    target = load_user(prep.account.account_id, prep.params["user_id"])
    if target.user_id == prep.principal.user_id:
        raise Forbidden("you cannot remove yourself; ask another admin")
    prep.target_user = target
    return f"Remove {target.email} ({target.role}) from {prep.account.name}"


def words_set_user_email(prep: Prepared) -> str:
    target = load_user(prep.account.account_id, prep.params["user_id"])
    prep.target_user = target
    _new_address_is_free(prep, target.email)
    return f"Change the email address of {target.email} ({target.role}, {prep.account.name}) to {prep.body.email}"


def words_set_my_email(prep: Prepared) -> str:
    _new_address_is_free(prep, prep.principal.email or "")
    return f"Change your email address for {prep.account.name} from {prep.principal.email} to {prep.body.email}"


def _new_address_is_free(prep: Prepared, current: str) -> None:
    """Refused before a code: the address it has already, or another user's of the account."""
    email = prep.body.email
    if email.lower() == current.lower():
        raise InvalidRequest("email", f"is {current}'s address already")
    if any(u.email.lower() == email.lower() for u in active_users(prep.account.account_id)):
        raise Conflict(f"{email} is already a user of {prep.account.name}")


def words_enroll_totp(prep: Prepared) -> str:
    return f"Enroll a new authenticator app for {prep.principal.email}"


def words_rotate_token(prep: Prepared) -> str:
    return f"Replace the access token of {prep.principal.email}; the current one stops working at once"


TOTP_ISSUER = "wabaguard"


def do_add_user(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    account = prep.account
    email = prep.body.email
    existing = [u for u in active_users(account.account_id) if u.email == email]
    if existing:
        raise Conflict(f"{email} is already a user of {account.name}")
    user = invited_user(account, email, prep.body.role, now, work.change(p, "user_added", meta, now))
    user_id = user.user_id
    work.tx.save(user, condition=User.pk.does_not_exist())
    if prep.body.role == "admin":
        work.tx.update(Account(*Account.key(account.account_id)), actions=[Account.active_admins.add(1)])
    # No token here: the person who adds a colleague must not learn their login (§People and ops).
    body = {
        "user_id": user_id,
        "email": email,
        "role": prep.body.role,
        "account_id": account.account_id,
        "created_at": iso(now),
        "access": "invited",
        "invite": {"status": "emailed", "to": email, "valid_for": "7 days"},
    }
    return 201, body, {"detail": f"user {user_id}"}


def do_remove_user(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    target = prep.target_user
    assert target is not None
    work.tx.update(
        target,
        actions=[
            User.status.set("removed"),
            User.removed_at.set(iso(now)),
            User.last_change.set(work.change(p, "user_removed", meta, now)),
        ],
        condition=User.status == "active",
    )
    if target.token_digest:
        revoke: Any = [Credential.status.set("revoked")]
        work.tx.update(Credential(target.token_digest), actions=revoke, condition=Credential.token_digest.exists())
    partner_change.cancel_for_removed_requester(
        work.tx,
        target.user_id,
        target.email,
        prep.account,
        lambda: change_record(p, "partner_change_cancelled", meta, now),
        meta,
        now,
    )
    if target.role == "admin":
        # Settled by DynamoDB: two admins removing each other at once cannot both win.
        fewer: Any = [Account.active_admins.add(-1)]
        work.tx.update(
            Account(*Account.key(prep.account.account_id)), actions=fewer, condition=Account.active_admins > 1
        )

    def conflict() -> Exception:
        fresh = User.get(target.pk, target.sk, consistent_read=True)
        if fresh.status != "active":
            return NotFound(f"user {target.user_id} does not exist")
        return Conflict(f"{target.email} is the last active admin of {prep.account.name}; an account keeps one")

    work.conflict = conflict
    return 204, None, {"detail": f"user {target.user_id}"}


def do_enroll_totp(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    user = load_user(p.account_id, p.user_id or "")
    secret = pyotp.random_base32()
    ctx = {"user_id": user.user_id, "purpose": "totp"}
    pending: Any = [User.totp_pending_enc.set(kms_encrypt(secret, ctx))]
    work.tx.update(user, actions=pending, condition=User.status == "active")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return 201, {"otpauth_uri": uri, "confirm_with": "POST /v1/me/totp/confirm"}, {}


def do_set_user_email(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    assert prep.target_user is not None
    return _set_email(p, prep, prep.target_user, "user_email_changed", meta, now, work)


def do_set_my_email(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    return _set_email(p, prep, load_user(p.account_id, p.user_id or ""), "own_email_changed", meta, now, work)


def _set_email(
    p: Principal, prep: Prepared, target: User, kind: str, meta: RequestMeta, now: datetime, work: Work
) -> Outcome:
    """A user's new address (§Mail delivery): the user item and their credential (which the
    authorizer's warnings go to) in one transaction; the status waits for the next delivery."""
    email = prep.body.email
    _new_address_is_free(prep, target.email)  # again: another change may have taken it meanwhile
    work.tx.update(
        target,
        actions=[
            User.email.set(email),
            User.email_status.set("pending"),
            User.email_status_at.set(iso(now)),
            User.email_status_detail.remove(),
            User.last_change.set(work.change(p, kind, meta, now)),
        ],
        condition=(User.status == "active") & (User.email == target.email),
    )
    if target.token_digest:
        work.tx.update(
            Credential(target.token_digest),
            actions=[Credential.email.set(email)],
            condition=Credential.token_digest.exists(),
        )
    body = {"user_id": target.user_id, "account_id": target.account_id, "email": email, "email_status": "pending"}
    return 200, body, {"detail": f"user {target.user_id}: email changed"}


def do_rotate_token(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    """A new access token for the caller, shown once; the old one is refused from this moment.
    One transaction: the new credential, the old one revoked, the user pointing at the new one."""
    user = load_user(p.account_id, p.user_id or "")
    credential, token = user_credential(prep.account, user.user_id, user.email, user.role, now)
    old = user.token_digest
    tx = work.tx
    tx.save(credential, condition=Credential.token_digest.does_not_exist())
    if old:
        revoke: Any = [
            Credential.status.set("revoked"),
            Credential.rotated_at.set(int(now.timestamp())),
            Credential.rotated_by_challenge.set(work.challenge_id),
        ]
        tx.update(Credential(old), actions=revoke, condition=Credential.status == "active")
    tx.update(
        user,
        actions=[
            User.token_digest.set(credential.token_digest),
            User.last_change.set(work.change(p, "token_rotated", meta, now)),
        ],
        condition=(User.status == "active") & (User.token_digest == old if old else User.token_digest.does_not_exist()),
    )
    return 201, {"token": token, "user_id": user.user_id, "created_at": iso(now)}, {"detail": "access token replaced"}


# ------------------------------------------------------------------ non-key writes
def confirm_totp(principal: Principal, code: str, meta: RequestMeta, now: datetime | None = None) -> dict[str, Any]:
    """Activate a pending authenticator once it shows a valid code (the step is then spent)."""
    now = now or clock.utcnow()
    if not principal.is_user:
        raise Forbidden("only users enroll authenticator apps")
    user = load_user(principal.account_id, principal.user_id or "")
    account = load_account(principal.account_id)
    if account.under_review:
        raise UnderReview.paused(account.account_id, "confirm_totp")
    if not user.totp_pending_enc:
        raise Conflict("no authenticator enrollment is pending; POST /v1/me/totp first (with an OTP)")
    ctx = {"user_id": user.user_id, "purpose": "totp"}
    secret = kms_decrypt(user.totp_pending_enc, ctx)
    step = totp.matching_step(secret, code, now)
    if step is None:
        raise InvalidRequest("code", "does not match the authenticator app; check its clock and try again")
    spend_totp_step(user.user_id, step)
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    p = pepper()
    RecoveryCodes(recovery_pk(user.user_id), codes={recovery_digest(p, user.user_id, c) for c in codes}).save()
    user.update(
        actions=[
            User.totp_secret_enc.set(user.totp_pending_enc),
            User.totp_pending_enc.remove(),
            User.totp_enabled.set(True),
            User.last_change.set(change_record(principal, "totp_enrolled", meta, now)),
        ],
        condition=User.status == "active",
    )
    activity.record(user.account_id, "key_action", meta, at=now, user_id=user.user_id, action="confirm_totp")
    return {
        "totp_enabled": True,
        "recovery_codes": codes,
        "note": "Store these recovery codes now: each works once, in place of an authenticator code, and "
        "they are never shown again.",
    }


def reset_totp_by_ops(account_id: str, user_id: str, ops_identity: str, now: datetime | None = None) -> dict[str, Any]:
    """Ops recover a user who lost the authenticator and its recovery codes, or their passkeys
    (after checking who they are, out of band): both are reset. Every user of the account is told
    (one notice per reset item); the next approval goes by email."""
    now = now or clock.utcnow()
    user = load_user(account_id, user_id)
    passkeys = store.of_user(account_id, user_id, consistent=True)
    if not user.totp_enabled and not user.totp_pending_enc and not passkeys:
        raise Conflict(f"{user.email} has no authenticator app or passkey to reset")
    by = f"ops ({ops_identity})"
    if user.totp_enabled or user.totp_pending_enc:
        user.update(
            actions=[
                User.totp_enabled.set(False),
                User.totp_secret_enc.remove(),
                User.totp_pending_enc.remove(),
                User.last_change.set(system_change("totp_reset", now, by)),
            ],
            condition=User.status == "active",
        )
        RecoveryCodes(recovery_pk(user_id)).delete()
    for passkey in passkeys:
        passkey.update(
            actions=[
                Passkey.status.set("removed"),
                Passkey.removed_at.set(iso(now)),
                Passkey.last_change.set(system_change("passkey_removed", now, by)),
            ],
            condition=Passkey.status == "active",
        )
    activity.record(account_id, "key_action", at=now, user_id=user_id, action="totp_reset", detail="by ops")
    return {"user_id": user_id, "totp_enabled": False, "passkeys_removed": len(passkeys)}


def spend_totp_step(user_id: str, step: int) -> None:
    """Record ``step`` as used; refuses a step not newer than the last one accepted."""
    state, update = totp.spend(user_id, step)
    try:
        state.update(**update)
    except UpdateError as exc:
        if condition_failed(exc):
            raise InvalidRequest("code", "was already used; wait for the next code") from None
        raise
