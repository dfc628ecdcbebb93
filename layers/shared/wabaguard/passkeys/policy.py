"""An account's security policy (§Passkeys): the key actions only a passkey may approve.

A covered action's challenge is a passkey challenge or nothing (403 ``passkey_required``): a
stolen mailbox or authenticator code cannot approve it. Loosening the policy — covering less
than today — needs a passkey whenever today's policy covers anything, so a factor the policy
distrusts cannot switch it off. One exception keeps people from being locked out: a user with
no passkey yet may register one with the factor they have (everyone is told).
"""

from __future__ import annotations

from typing import Any

from wabaguard.models import Account

ALL = "all"
REGISTER = "register_passkey"


def covered(account: Account) -> frozenset[str] | None:
    """The covered action names; None for "all"."""
    names = list(account.passkey_required_for or [])
    if ALL in names:
        return None
    return frozenset(names)


def covers(account: Account, action: str) -> bool:
    names = covered(account)
    return names is None or action in names


def view(account: Account) -> dict[str, Any]:
    names = covered(account)
    return {"passkey_required_for": ALL if names is None else sorted(names)}


def loosens(account: Account, wanted: list[str] | str) -> bool:
    """Whether ``wanted`` covers less than today's policy."""
    now = covered(account)
    if now is not None and not now:
        return False  # nothing is covered today: nothing to loosen
    if wanted == ALL:
        return False
    if now is None:
        return True  # from "all" to a list
    return not now <= frozenset(wanted)


def passkey_needed(account: Account, action: str, body: Any, has_passkey: bool) -> bool:
    """Whether only a passkey may approve this request."""
    if action == REGISTER and not has_passkey:
        return False  # the first passkey is registered with the factor the user has
    if covers(account, action):
        return True
    if action == "set_security_policy" and isinstance(body, dict):
        return loosens(account, body.get("passkey_required_for", []))
    return False
