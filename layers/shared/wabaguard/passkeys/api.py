"""The passkey reads and the non-key write of §API: registration options, a user's passkeys, an
account's security policy, a receipt."""

from __future__ import annotations

from typing import Any

from wabaguard.errors import Forbidden
from wabaguard.passkeys import policy, receipts, registration, store
from wabaguard.people.access import load_user, require_account
from wabaguard.people.principal import Principal


def _user_of(principal: Principal) -> Any:
    if not principal.is_user:
        raise Forbidden("passkeys belong to users, not API keys")
    return load_user(principal.account_id, principal.user_id or "")


def registration_options(principal: Principal) -> dict[str, Any]:
    """``POST /v1/me/passkeys/options``."""
    return registration.options(principal, _user_of(principal))


def listing(principal: Principal) -> dict[str, Any]:
    """``GET /v1/me/passkeys``: the caller's active passkeys."""
    user = _user_of(principal)
    return {"passkeys": [store.view(p) for p in store.of_user(user.account_id, user.user_id)]}


def security_policy(principal: Principal, account_id: str) -> dict[str, Any]:
    """``GET /v1/accounts/{account_id}/security-policy``: readable by the account's users."""
    account = require_account(principal, account_id, user_only=True)
    return {"account_id": account.account_id, **policy.view(account)}


receipt = receipts.get
