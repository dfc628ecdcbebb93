"""Who may act on what (§Credentials): load a resource, 404 if absent, 403 if not the caller's.

A user acts on its own account; a Partner user also on the Client accounts its Partner manages,
with its own role (Partner admins count as admins there).
"""

from __future__ import annotations

import re

from wabaguard.errors import Forbidden, NotFound
from wabaguard.models import Account, PhoneNumber, User, account_pk, user_sk
from wabaguard.principal import Principal

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def valid_id(value: str) -> bool:
    """Identifiers are short and plain; anything else cannot exist (and never reaches DynamoDB)."""
    return bool(_ID.match(value or ""))


def load_account(account_id: str, consistent: bool = False) -> Account:
    """The account, or 404. ``consistent`` for a writer about to condition on what it read."""
    if not valid_id(account_id):
        raise NotFound("no such account")
    try:
        return Account.get(*Account.key(account_id), consistent_read=consistent)
    except Account.DoesNotExist:
        raise NotFound(f"account {account_id} does not exist") from None


def load_phone(phone_number_id: str) -> PhoneNumber:
    if not valid_id(phone_number_id):
        raise NotFound("no such phone number")
    try:
        return PhoneNumber.get(*PhoneNumber.key(phone_number_id))
    except PhoneNumber.DoesNotExist:
        raise NotFound(f"phone number {phone_number_id} does not exist") from None


def load_user(account_id: str, user_id: str) -> User:
    if not valid_id(account_id) or not valid_id(user_id):
        raise NotFound("no such user")
    try:
        user = User.get(account_pk(account_id), user_sk(user_id))
    except User.DoesNotExist:
        raise NotFound(f"user {user_id} does not exist") from None
    if user.status != "active":
        raise NotFound(f"user {user_id} does not exist")
    return user


def active_users(account_id: str) -> list[User]:
    """The account's users who have not been removed."""
    return [u for u in User.query(account_pk(account_id), User.sk.startswith("USER#")) if u.status == "active"]


def can_act(principal: Principal, account: Account) -> bool:
    if principal.account_id == account.account_id:
        return True
    return principal.is_user and principal.is_partner and account.partner_id == principal.account_id


def require_account(principal: Principal, account_id: str, *, admin: bool = False, user_only: bool = False) -> Account:
    """The account if the caller may act on it (as admin when ``admin``).

    Another tenant's account answers exactly like a missing one (404, same words), so ids leak
    nothing. ``user_only``: reads an API key may not make (users, audit log, flags).
    """
    account = load_account(account_id)
    if not can_act(principal, account) or (principal.kind == "api_key" and account_id != principal.account_id):
        raise NotFound(f"account {account_id} does not exist")
    if user_only and not principal.is_user:
        raise Forbidden("API keys may only read their own phone number and revoke themselves")
    if admin and not principal.is_admin:
        raise Forbidden("only an admin may do this")
    return account


def require_phone(principal: Principal, phone_number_id: str) -> tuple[PhoneNumber, Account]:
    """The phone number and its account if the caller may act on it (else 404, like a missing one)."""
    phone = load_phone(phone_number_id)
    if principal.kind == "api_key" and principal.phone_number_id != phone_number_id:
        if phone.account_id == principal.account_id:
            raise Forbidden("API keys act only on their own phone number")
        raise NotFound(f"phone number {phone_number_id} does not exist")
    try:
        account = require_account(principal, phone.account_id)
    except NotFound:
        raise NotFound(f"phone number {phone_number_id} does not exist") from None
    return phone, account


def require_user_principal(principal: Principal) -> None:
    """Key actions need a person: an API key has no mailbox or device to confirm with."""
    if not principal.is_user:
        raise Forbidden("key actions must be made by a user, not an API key")
