"""Who may act on what (§Credentials): load a resource, 404 if absent, 403 if not the caller's.

A user acts on its own account; a Partner user also on the Client accounts its Partner manages,
with its own role (Partner admins count as admins there).
"""

from __future__ import annotations

import re
from enum import StrEnum

from wabaguard.errors import Forbidden, NotFound
from wabaguard.models import META, Account, Link, PhoneNumber, User, account_pk, user_sk, waba_pk
from wabaguard.patterns import ID
from wabaguard.people.principal import Principal

_ID = re.compile(ID)


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


def account_by_waba(waba_id: str) -> Account | None:
    """The account that owns a WABA (Meta's webhooks name accounts by it), or None. Here, not
    with onboarding, which writes the link: Meta's webhook function reads it and loads no more."""
    try:
        link = Link.get(waba_pk(waba_id), META)
    except Link.DoesNotExist:
        return None
    try:
        return load_account(link.target_id)
    except NotFound:
        return None


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


def account_or_none(account_id: str | None) -> Account | None:
    """The account, or None where there is none (no id, or not onboarded here): for readers to whom
    a missing Partner or account is an answer, not an error."""
    if not account_id:
        return None
    try:
        return load_account(account_id)
    except NotFound:
        return None


def partner_name(partner_id: str | None) -> str:
    """A Partner as people know it: its name (its id only if it is not onboarded here)."""
    if not partner_id:
        return "(none)"
    try:
        return load_account(partner_id).name
    except NotFound:
        return partner_id


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


class Role(StrEnum):
    """A user's role *towards the account acted on*: a user of that account, or a user of the
    Partner that manages it — each an admin or a member. What a key action allows is a set of these
    (the registry), so a rule about who may do what is one declaration, tested for every role."""

    ACCOUNT_ADMIN = "account admin"
    ACCOUNT_MEMBER = "account member"
    PARTNER_ADMIN = "Partner admin"
    PARTNER_MEMBER = "Partner member"


EVERY_ROLE = frozenset(Role)
ADMINS = frozenset({Role.ACCOUNT_ADMIN, Role.PARTNER_ADMIN})


def role_of(principal: Principal, account: Account) -> Role:
    """The caller's role towards ``account`` (which it may act on: ``require_account`` said so)."""
    own = principal.account_id == account.account_id
    if principal.is_admin:
        return Role.ACCOUNT_ADMIN if own else Role.PARTNER_ADMIN
    return Role.ACCOUNT_MEMBER if own else Role.PARTNER_MEMBER


def require_role(principal: Principal, account: Account, roles: frozenset[Role], action: str) -> Role:
    """403 unless the caller's role towards the account is one of ``roles``."""
    role = role_of(principal, account)
    if role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles)) or "nobody"
        raise Forbidden(f"{action} may be done by {allowed} only; you are {role.value} of {account.name}")
    return role


def require_user_principal(principal: Principal) -> None:
    """Key actions need a person: an API key has no mailbox or device to confirm with."""
    if not principal.is_user:
        raise Forbidden("key actions must be made by a user, not an API key")


def managed_accounts(partner_id: str) -> list[Account]:
    """Client accounts a Partner manages, through its ``MANAGES#`` links."""
    links = Link.query(account_pk(partner_id), Link.sk.startswith("MANAGES#"))
    keys = [Account.key(link.target_id) for link in links]
    return list(Account.batch_get(keys)) if keys else []


def phones_of(account_id: str) -> list[Link]:
    """An account's phone numbers (id and display), through its ``PHONE#`` links."""
    return list(Link.query(account_pk(account_id), Link.sk.startswith("PHONE#")))
