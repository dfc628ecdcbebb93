"""Reads of §API: who am I, a phone number, an account's users and its audit log."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from wabaguard import clock
from wabaguard.activity import SECURITY_KINDS, parse_at, public_view
from wabaguard.errors import InvalidRequest
from wabaguard.models import ActivityRecord, ApiKey, MessageTemplate, PhoneNumber, account_pk, phone_pk
from wabaguard.people.access import (
    active_users,
    load_account,
    managed_accounts,
    phones_of,
    require_account,
    require_phone,
)
from wabaguard.people.principal import Principal
from wabaguard.people.users import user_view
from wabaguard.urls import display_url
from wabaguard.whatsapp import changes as platform

STALE_AFTER = timedelta(days=90)


def me(principal: Principal) -> dict[str, Any]:
    account = load_account(principal.account_id)
    out: dict[str, Any] = {
        "kind": principal.kind,
        "account": {"account_id": account.account_id, "name": account.name, "kind": account.kind},
    }
    if principal.is_user:
        out.update(user_id=principal.user_id, email=principal.email, role=principal.role)
    else:
        out.update(key_id=principal.key_id, prefix=principal.prefix, phone_number_id=principal.phone_number_id)
    if account.kind == "partner":
        out["managed_accounts"] = [
            {"account_id": a.account_id, "name": a.name} for a in managed_accounts(account.account_id)
        ]
    else:
        out["phone_numbers"] = [
            {"phone_number_id": link.target_id, "display": link.display} for link in phones_of(account.account_id)
        ]
    return out


def phone_number(principal: Principal, phone_number_id: str) -> dict[str, Any]:
    phone, _ = require_phone(principal, phone_number_id)
    return phone_view(phone, full_url=principal.is_user)


def templates(principal: Principal, account_id: str) -> dict[str, Any]:
    """An account's message templates: Meta's id and review status, and where each stands at Meta."""
    require_account(principal, account_id)
    states = platform.of_account(account_id)
    out = []
    for tpl in MessageTemplate.query(account_pk(account_id), MessageTemplate.sk.startswith("TEMPLATE#")):
        out.append(
            {
                "template_id": tpl.template_id,
                "name": tpl.name,
                "language": tpl.language,
                "category": tpl.category,
                "status": tpl.status,
                "status_reason": tpl.status_reason,
                "meta_template_id": tpl.meta_template_id,
                "created_at": tpl.created_at,
                "platform": platform.view(states.get(platform.resource_of("create_template", tpl.template_id))),
            }
        )
    return {"account_id": account_id, "templates": out}


def users(principal: Principal, account_id: str) -> dict[str, Any]:
    require_account(principal, account_id, user_only=True)
    last_seen = _last_seen(account_id)
    now = clock.utcnow()
    out = []
    for user in active_users(account_id):
        seen = last_seen.get(user.user_id)
        since = parse_at(seen or user.created_at)
        out.append(user_view(user, seen, stale=now - since > STALE_AFTER))
    return {"account_id": account_id, "users": out}


def _last_seen(account_id: str, scan_limit: int = 500) -> dict[str, str]:
    """Last security event per user, from the newest ``scan_limit`` events of the account."""
    seen: dict[str, str] = {}
    for item in ActivityRecord.query(
        account_pk(account_id), ActivityRecord.sk.startswith("S#"), scan_index_forward=False, limit=scan_limit
    ):
        if item.user_id and item.user_id not in seen:
            seen[item.user_id] = item.at
    return seen


def security_events(principal: Principal, account_id: str, limit: str | None, cursor: str | None) -> dict[str, Any]:
    """The audit log, newest first, ``limit`` per page, with an opaque ``next_cursor``."""
    require_account(principal, account_id, user_only=True)
    page = page_size(limit)
    start = _decode_cursor(cursor, account_id) if cursor else None
    result = ActivityRecord.query(
        account_pk(account_id),
        ActivityRecord.sk.startswith("S#"),
        scan_index_forward=False,
        limit=page,
        last_evaluated_key=start,
        page_size=page,
    )
    events = [public_view(item) for item in result if item.kind in SECURITY_KINDS]
    nxt = result.last_evaluated_key
    return {
        "account_id": account_id,
        "events": events,
        "next_cursor": _encode_cursor(nxt) if nxt and len(events) == page else None,
    }


def page_size(limit: str | None) -> int:
    """A listing's ``?limit=``: 1 to 100, 50 when absent; anything else is a 400 naming it."""
    try:
        size = int(limit) if limit is not None else 50
    except ValueError:
        raise InvalidRequest("limit", "must be an integer") from None
    if not 1 <= size <= 100:
        raise InvalidRequest("limit", "must be between 1 and 100")
    return size


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"pk": key["pk"]["S"], "sk": key["sk"]["S"]}).encode()).decode()


def _decode_cursor(cursor: str, account_id: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==="))
        pk, sk = str(data["pk"]), str(data["sk"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidRequest("cursor", "is not a cursor this API returned") from None
    if pk != account_pk(account_id) or not sk.startswith("S#"):
        raise InvalidRequest("cursor", "belongs to another listing")
    return {"pk": {"S": pk}, "sk": {"S": sk}}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The committed OpenAPI document (``make openapi`` regenerates it from the code; a test keeps
    it current), shipped inside the layer."""
    return dict(json.loads(resources.files("wabaguard").joinpath("openapi.json").read_text()))


# ------------------------------------------------------------------ reads
def profile_view(
    phone_number_id: str, profile: dict[str, Any] | None, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = {"phone_number_id": phone_number_id, **(profile or {})}
    if state is not None:
        out["platform"] = state
    return out


def phone_view(phone: PhoneNumber, full_url: bool = True) -> dict[str, Any]:
    """A phone number as the API shows it; ``full_url=False`` masks the webhook's query string
    (an integration's API key need not read a secret a person put there)."""
    keys = [
        {
            "key_id": k.key_id,
            "name": k.name,
            "prefix": k.prefix,
            "status": k.status,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in ApiKey.query(phone_pk(phone.phone_number_id), ApiKey.sk.startswith("KEY#"))
    ]
    profile = platform.latest(phone.account_id, platform.resource_of("update_profile", phone.phone_number_id))
    webhook = platform.latest(phone.account_id, platform.resource_of("set_webhook_url", phone.phone_number_id))
    return {
        "phone_number_id": phone.phone_number_id,
        "account_id": phone.account_id,
        "display": phone.display,
        "meta_phone_number_id": phone.meta_phone_number_id,
        "display_phone_number": phone.display_phone_number,
        "profile": phone.profile or {},
        "webhook_url": phone.webhook_url if full_url else display_url(phone.webhook_url),
        "api_keys": keys,
        # where the newest change stands at Meta, and the newest of each kind (None: never changed here)
        "platform": {
            **(
                platform.view(platform.newest(profile, webhook))
                or {"status": None, "detail": "never changed through wabaguard"}
            ),
            "profile": platform.view(profile),
            "webhook_url": platform.view(webhook),
        },
    }
