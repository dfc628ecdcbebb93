"""An account's security-events endpoint: its URL, its signing secret and their lifecycle.

The secret (``whsec_`` + base64 of 32 random bytes, the Standard Webhooks form) is returned once,
by the key action that mints it, and stored only KMS-encrypted under its own encryption context.
Each new secret (a rotation, or a PUT that replaces the endpoint) leaves the previous one signing
for 24 hours, so a receiver can switch without losing an event. Writes are conditioned on the
``updated_at`` they read, so two concurrent changes of one endpoint cannot both win.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from wabaguard import activity
from wabaguard.aws import kms_decrypt, kms_encrypt
from wabaguard.models import ChangeRecord, SecurityWebhook, condition_failed, iso, system_change
from wabaguard.urls import display_url

SECRET_PREFIX = "whsec_"
OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _context(account_id: str) -> dict[str, str]:
    return {"account_id": account_id, "purpose": "security_webhook_secret"}


def load(account_id: str) -> SecurityWebhook | None:
    try:
        return SecurityWebhook.get(*SecurityWebhook.key(account_id), consistent_read=True)
    except SecurityWebhook.DoesNotExist:
        return None


def registered(endpoint: SecurityWebhook | None) -> bool:
    """An endpoint that exists and was not removed (it may be disabled)."""
    return endpoint is not None and endpoint.status != "removed" and bool(endpoint.url)


def view(endpoint: SecurityWebhook) -> dict[str, Any]:
    """What users see of an endpoint: never the secret; the URL as notices show it."""
    previous = endpoint.previous_until if endpoint.previous_secret_enc else None
    return {
        "url": display_url(endpoint.url),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "secret_rotated_at": endpoint.rotated_at,
        "previous_secret_valid_until": previous,
    }


def decrypt_secret(account_id: str, secret_enc: str) -> str:
    """A secret kept elsewhere (a delivery to the endpoint that was replaced), in clear to sign."""
    return kms_decrypt(secret_enc, _context(account_id))


def signing_secrets(endpoint: SecurityWebhook, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one within its 24 hours."""
    out = [kms_decrypt(endpoint.secret_enc, _context(endpoint.account_id))] if endpoint.secret_enc else []
    if endpoint.previous_secret_enc and endpoint.previous_until and activity.parse_at(endpoint.previous_until) > now:
        out.append(kms_decrypt(endpoint.previous_secret_enc, _context(endpoint.account_id)))
    return out


def _unchanged(current: SecurityWebhook | None) -> Any:
    if current is None:
        return SecurityWebhook.pk.does_not_exist()
    return SecurityWebhook.updated_at == current.updated_at


def _keep_previous(current: SecurityWebhook | None, now: datetime) -> tuple[str | None, str | None]:
    """The secret that keeps signing for 24 h after a new one is minted (none after a removal)."""
    if current is None or current.status == "removed" or not current.secret_enc:
        return None, None
    return current.secret_enc, iso(now + OVERLAP)


def put(
    tx: TransactWrite, account_id: str, url: str, current: SecurityWebhook | None, change: ChangeRecord, now: datetime
) -> tuple[dict[str, Any], str]:
    """Register or replace the endpoint (enabled again if it was disabled), with a new secret;
    returns the view and the secret, which the caller shows once."""
    secret = new_secret()
    previous, until = _keep_previous(current, now)
    item = SecurityWebhook(
        *SecurityWebhook.key(account_id),
        account_id=account_id,
        url=url,
        status="active",
        secret_enc=kms_encrypt(secret, _context(account_id)),
        previous_secret_enc=previous,
        previous_until=until,
        created_at=current.created_at if registered(current) and current else iso(now),
        updated_at=activity.precise(now),
        rotated_at=iso(now),
        last_change=change,
    )
    tx.save(item, condition=_unchanged(current))
    return view(item), secret


def rotate(
    tx: TransactWrite, current: SecurityWebhook, change: ChangeRecord, now: datetime
) -> tuple[dict[str, Any], str]:
    """A new secret; the old one signs alongside it for 24 hours."""
    secret = new_secret()
    previous, until = _keep_previous(current, now)
    stamp = activity.precise(now)
    kept = (
        [SecurityWebhook.previous_secret_enc.set(previous), SecurityWebhook.previous_until.set(until)]
        if previous and until
        else [SecurityWebhook.previous_secret_enc.remove(), SecurityWebhook.previous_until.remove()]
    )
    tx.update(
        current,
        actions=[
            SecurityWebhook.secret_enc.set(kms_encrypt(secret, _context(current.account_id))),
            *kept,
            SecurityWebhook.rotated_at.set(iso(now)),
            SecurityWebhook.updated_at.set(stamp),
            SecurityWebhook.last_change.set(change),
        ],
        condition=_unchanged(current),
    )
    current.previous_until, current.rotated_at, current.updated_at = until, iso(now), stamp
    current.previous_secret_enc = previous
    return view(current), secret


def remove(tx: TransactWrite, current: SecurityWebhook, change: ChangeRecord, now: datetime) -> None:
    """Forget the URL and every secret; the item stays, carrying the removal for the notice."""
    tx.update(
        current,
        actions=[
            SecurityWebhook.status.set("removed"),
            SecurityWebhook.secret_enc.remove(),
            SecurityWebhook.previous_secret_enc.remove(),
            SecurityWebhook.previous_until.remove(),
            SecurityWebhook.disabled_reason.remove(),
            SecurityWebhook.updated_at.set(activity.precise(now)),
            SecurityWebhook.last_change.set(change),
        ],
        condition=_unchanged(current),
    )


def disable(account_id: str, url: str, reason: str, now: datetime) -> bool:
    """Stop delivering to an endpoint that answered 410 or never accepted an event; the change
    (``security_webhook_disabled``) tells the account's admins. Only the URL that failed is
    disabled: if the endpoint was replaced meanwhile, nothing happens. True when this call did it."""
    item = SecurityWebhook(*SecurityWebhook.key(account_id))
    try:
        item.update(
            actions=[
                SecurityWebhook.status.set("disabled"),
                SecurityWebhook.disabled_reason.set(reason),
                SecurityWebhook.updated_at.set(activity.precise(now)),
                SecurityWebhook.last_change.set(
                    system_change("security_webhook_disabled", now, "wabaguard delivery", ref=reason[:200])
                ),
            ],
            condition=(SecurityWebhook.status == "active") & (SecurityWebhook.url == url),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
