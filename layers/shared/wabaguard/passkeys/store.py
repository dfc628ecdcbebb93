"""A user's passkeys: read together (one query on the user's sort-key prefix), viewed without
their keys, and found by the credential id an assertion names."""

from __future__ import annotations

import hmac
from typing import Any

from wabaguard.models import Passkey, account_pk
from wabaguard.models.accounts import _passkeys_prefix


def of_user(account_id: str, user_id: str, consistent: bool = False) -> list[Passkey]:
    """The user's active passkeys, oldest first."""
    items = Passkey.query(
        account_pk(account_id),
        Passkey.sk.startswith(_passkeys_prefix(user_id)),
        filter_condition=Passkey.status == "active",
        consistent_read=consistent,
    )
    return sorted(items, key=lambda p: p.created_at)


def has_passkey(account_id: str, user_id: str) -> bool:
    return bool(of_user(account_id, user_id))


def by_credential(passkeys: list[Passkey], credential_id: str) -> Passkey | None:
    """The passkey with this credential id (constant-time compare: ids are not secret, but cheap)."""
    for passkey in passkeys:
        if hmac.compare_digest(passkey.credential_id.encode(), credential_id.encode()):
            return passkey
    return None


def view(passkey: Passkey) -> dict[str, Any]:
    """What the API shows of a passkey: never its public key bytes (not secret, but not needed)."""
    return {
        "passkey_id": passkey.passkey_id,
        "name": passkey.name,
        "created_at": passkey.created_at,
        "last_used_at": passkey.last_used_at,
        "backed_up": passkey.backed_up == "true",
    }
