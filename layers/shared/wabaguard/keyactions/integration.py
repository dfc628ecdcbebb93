"""How a business's systems are reached: a phone number's webhook URL, its API keys (and revoking
one, which protects and needs no code), and the account's security webhook (§Security webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from wabaguard import activity, clock, outbound
from wabaguard.activity import RequestMeta
from wabaguard.errors import Conflict, Forbidden, InvalidRequest, NotFound
from wabaguard.keyactions.work import Outcome, Prepared, Work
from wabaguard.models import ApiKey, Credential, PhoneNumber, api_key_sk, condition_failed, iso, phone_pk, transaction
from wabaguard.people.access import require_phone, valid_id
from wabaguard.people.principal import Principal, change_record
from wabaguard.security import new_id, new_token, token_digest
from wabaguard.urls import display_url
from wabaguard.webhooks import endpoints
from wabaguard.whatsapp import changes as platform


def words_set_webhook_url(prep: Prepared) -> str:
    return f"Set the webhook URL of {prep.phone_words} to {display_url(prep.body.url)}"


def words_create_api_key(prep: Prepared) -> str:
    label = f' named "{prep.body.name}"' if prep.body.name else ""
    return f"Create a new API key{label} for {prep.phone_words}"


def words_set_security_webhook(prep: Prepared) -> str:
    """The URL must resolve to public addresses now (checked again at every delivery)."""
    try:
        outbound.resolve(prep.body.url)
    except outbound.Refused as exc:
        raise InvalidRequest("body.url", str(exc)) from None
    return (
        f"Send the security events of {prep.account.name} to {display_url(prep.body.url)} "
        "(a new signing secret is shown once)"
    )


def words_remove_security_webhook(prep: Prepared) -> str:
    current = _registered(prep)
    return f"Stop sending the security events of {prep.account.name} to {display_url(current.url)}"


def words_rotate_security_webhook_secret(prep: Prepared) -> str:
    _registered(prep)
    return (
        f"Replace the signing secret of the security webhook of {prep.account.name}; "
        "the current secret keeps signing for 24 hours"
    )


def _registered(prep: Prepared) -> Any:
    current = endpoints.load(prep.account.account_id)
    if not endpoints.registered(current) or current is None:
        raise NotFound(f"{prep.account.name} has no security webhook")
    return current


def do_set_webhook_url(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    assert prep.phone is not None
    work.tx.update(
        prep.phone,
        actions=[
            PhoneNumber.webhook_url.set(prep.body.url),
            PhoneNumber.last_change.set(work.change(p, "webhook_url_set", meta, now)),
        ],
        condition=PhoneNumber.pk.exists(),
    )
    phone = prep.phone
    meta_body = {"webhook_configuration": {"override_callback_uri": prep.body.url}}
    state = platform.enqueue(
        work.tx,
        phone.account_id,
        "set_webhook_url",
        phone.phone_number_id,
        f"/{phone.meta_phone_number_id}",
        meta_body,
        now,
        secret=prep.body.verify_token,
    )
    return 200, {"url": prep.body.url, "platform": state}, {"phone_number_id": phone.phone_number_id}


def do_create_api_key(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    assert prep.phone is not None
    phone = prep.phone
    key_id = new_id("key")
    api_key = new_token("wgk")
    prefix = api_key[:10]
    digest = token_digest(api_key)
    tx = work.tx
    tx.save(
        ApiKey(
            phone_pk(phone.phone_number_id),
            api_key_sk(key_id),
            key_id=key_id,
            phone_number_id=phone.phone_number_id,
            account_id=phone.account_id,
            name=prep.body.name,
            prefix=prefix,
            token_digest=digest,
            status="active",
            created_at=iso(now),
            last_change=work.change(p, "api_key_created", meta, now),
        ),
        condition=ApiKey.pk.does_not_exist(),
    )
    tx.save(
        Credential(
            digest,
            kind="api_key",
            account_id=phone.account_id,
            account_kind=prep.account.kind,
            key_id=key_id,
            phone_number_id=phone.phone_number_id,
            prefix=prefix,
            created_at=iso(now),
        ),
        condition=Credential.token_digest.does_not_exist(),
    )
    body = {
        "key_id": key_id,
        "api_key": api_key,
        "prefix": prefix,
        "name": prep.body.name,
        "phone_number_id": phone.phone_number_id,
        "created_at": iso(now),
    }
    return 201, body, {"phone_number_id": phone.phone_number_id, "key_id": key_id}


def do_set_security_webhook(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    """Register or replace the account's security-events endpoint; its secret is shown once."""
    account_id = prep.account.account_id
    current = endpoints.load(account_id)
    work.conflict = _changed_meanwhile
    change = work.change(p, "security_webhook_set", meta, now)
    view, secret = endpoints.put(work.tx, account_id, prep.body.url, current, change, now)
    return 200, {**view, "url": prep.body.url, "secret": secret}, {"detail": display_url(prep.body.url)}


def do_remove_security_webhook(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    current = _registered(prep)
    work.conflict = _changed_meanwhile
    endpoints.remove(work.tx, current, work.change(p, "security_webhook_removed", meta, now), now)
    return 204, None, {"detail": display_url(current.url)}


def do_rotate_security_webhook_secret(
    p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work
) -> Outcome:
    current = _registered(prep)
    work.conflict = _changed_meanwhile
    view, secret = endpoints.rotate(work.tx, current, work.change(p, "security_webhook_rotated", meta, now), now)
    return 200, {**view, "secret": secret}, {"detail": "signing secret replaced"}


def _changed_meanwhile() -> Exception:
    return Conflict("the security webhook changed while the action ran; nothing was changed")


def revoke_api_key(
    principal: Principal, phone_number_id: str, key_id: str, meta: RequestMeta, now: datetime | None = None
) -> None:
    """Revoke a key at once. Protective, so no OTP — but every user is told."""
    now = now or clock.utcnow()
    _, account = require_phone(principal, phone_number_id)
    if not valid_id(key_id):
        raise NotFound("no such API key")
    if principal.kind == "api_key" and key_id != principal.key_id:
        raise Forbidden("an API key may revoke only itself")
    try:
        key = ApiKey.get(phone_pk(phone_number_id), api_key_sk(key_id))
    except ApiKey.DoesNotExist:
        raise NotFound(f"API key {key_id} does not exist") from None
    if key.status != "active":
        raise Conflict(f"API key {key_id} is already revoked")
    try:
        with transaction() as tx:
            tx.update(
                key,
                actions=[
                    ApiKey.status.set("revoked"),
                    ApiKey.revoked_at.set(iso(now)),
                    ApiKey.last_change.set(change_record(principal, "api_key_revoked", meta, now)),
                ],
                condition=ApiKey.status == "active",
            )
            tx.update(
                Credential(key.token_digest),
                actions=[Credential.status.set("revoked")],
                condition=Credential.token_digest.exists(),
            )
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise Conflict(f"API key {key_id} is already revoked") from None
        raise
    activity.record(
        account.account_id,
        "api_key_revoked",
        meta,
        at=now,
        user_id=principal.user_id,
        key_id=key_id,
        phone_number_id=phone_number_id,
    )
