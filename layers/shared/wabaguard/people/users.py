"""Users and their access tokens: made here, stored as digests, shown as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wabaguard.models import Account, ChangeRecord, Credential, User, account_pk, iso, user_sk
from wabaguard.security import new_id, new_token, token_digest


def access(user: User) -> str:
    """How the user can get in: ``invited`` (no token yet), ``recovering`` (a recovery invite is
    open; the current token works until it is used), ``active``."""
    if not user.token_digest:
        return "invited"
    return "recovering" if user.invite_ref else "active"


def new_user(
    account: Account, email: str, role: str, now: datetime, last_change: ChangeRecord | None = None
) -> tuple[User, Credential, str]:
    """A user and its access token (returned once; stored only as the credential's digest)."""
    user_id = new_id("usr")
    credential, token = user_credential(account, user_id, email, role, now)
    user = user_item(account, user_id, email, role, now, last_change, token_digest=credential.token_digest)
    return user, credential, token


def user_item(
    account: Account, user_id: str, email: str, role: str, now: datetime, last_change: ChangeRecord | None, **more: Any
) -> User:
    """The user item itself (with a token digest, or — invited — with the open invite's ref)."""
    return User(
        account_pk(account.account_id),
        user_sk(user_id),
        user_id=user_id,
        account_id=account.account_id,
        email=email,
        role=role,
        status="active",
        created_at=iso(now),
        last_change=last_change,
        **more,
    )


def user_credential(account: Account, user_id: str, email: str, role: str, now: datetime) -> tuple[Credential, str]:
    """A fresh access token for a user and the credential that stores its digest."""
    token = new_token("wgu")
    credential = Credential(
        token_digest(token),
        kind="user",
        account_id=account.account_id,
        account_kind=account.kind,
        user_id=user_id,
        email=email,
        role=role,
        created_at=iso(now),
    )
    return credential, token


def user_view(user: User, last_active_at: str | None = None, stale: bool = False) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "email": user.email,
        "role": user.role,
        "totp_enabled": bool(user.totp_enabled),
        "created_at": user.created_at,
        "last_active_at": last_active_at,
        "stale": stale,
        "access": access(user),
        "email_status": user.email_status or "ok",
    }
