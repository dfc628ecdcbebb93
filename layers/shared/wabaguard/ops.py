"""What wabaguard's operators read across accounts (§People and ops): flags by status and
severity, the accounts under review with their flags, and one account's whole picture. The routes
are IAM-authenticated in AWS (the ops token locally); nothing here is reachable with a user token.

Flags are listed from the sparse ``by_listing`` index (a flag carries ``FLAGS#<status>`` there,
moved when it is resolved), newest first, with an opaque cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from wabaguard import partner_change
from wabaguard.errors import InvalidRequest, NotFound
from wabaguard.models import Flag, PartnerChangeRequest, PhoneNumber, account_pk, flags_listing
from wabaguard.people.access import active_users, load_account, managed_accounts, phones_of
from wabaguard.people.users import user_view
from wabaguard.queries import page_size
from wabaguard.risk.flags import flag_view
from wabaguard.urls import host_of

STATUSES = ("open", "resolved", "audit")
SEVERITIES = ("low", "medium", "high")


def _encode(key: dict[str, Any]) -> str:
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def _decode(cursor: str, listing: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==="))
        key = {name: {"S": str(data[name])} for name in ("pk", "sk", "listing", "listed_at")}
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidRequest("cursor", "is not a cursor this API returned") from None
    if key["listing"]["S"] != listing:
        raise InvalidRequest("cursor", "belongs to another listing (status)")
    return key


def flags(status: str | None, severity: str | None, limit: str | None, cursor: str | None) -> dict[str, Any]:
    """Flags across accounts, newest first: ``status`` (default open), optionally one ``severity``."""
    status = status or "open"
    if status not in STATUSES:
        raise InvalidRequest("status", f"must be one of {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidRequest("severity", f"must be one of {', '.join(SEVERITIES)}")
    size = page_size(limit)
    listing = flags_listing(status)
    start = _decode(cursor, listing) if cursor else None
    found: list[Flag] = []
    names: dict[str, str] = {}
    nxt: dict[str, Any] | None = start
    # A severity filter may leave a page short: keep reading (bounded) until it is full or done.
    for _ in range(20):
        result = Flag.by_listing.query(
            listing,
            scan_index_forward=False,
            filter_condition=(Flag.severity == severity) if severity else None,
            limit=size - len(found),
            last_evaluated_key=nxt,
            page_size=size,
        )
        found += [f for f in result if isinstance(f, Flag)]
        nxt = result.last_evaluated_key
        if not nxt or len(found) >= size:
            break
    out = []
    for flag in found:
        if flag.account_id not in names:
            names[flag.account_id] = _name(flag.account_id)
        out.append({**flag_view(flag), "account_name": names[flag.account_id]})
    return {
        "status": status,
        "severity": severity,
        "flags": out,
        "next_cursor": _encode(nxt) if nxt and len(found) >= size else None,
    }


def _name(account_id: str) -> str:
    try:
        return load_account(account_id).name
    except NotFound:  # an account deleted since: the flag still lists, by id
        return account_id


def reviews() -> dict[str, Any]:
    """Accounts under review (an account is under review exactly while it has open high flags),
    each with every open flag it has, the longest-waiting first."""
    by_account: dict[str, list[Flag]] = {}
    for flag in Flag.by_listing.query(flags_listing("open"), filter_condition=Flag.severity == "high"):
        if isinstance(flag, Flag):
            by_account.setdefault(flag.account_id, []).append(flag)
    out = []
    for account_id, high in by_account.items():
        account = load_account(account_id, consistent=True)
        if not account.under_review:
            continue
        open_flags = [f for f in _flags_of(account_id) if f.status == "open"]
        out.append(
            {
                "account_id": account.account_id,
                "name": account.name,
                "partner_id": account.partner_id,
                "review_reason": account.review_reason,
                "under_review_since": min(f.created_at for f in high),
                "flags": [flag_view(f) for f in open_flags],
            }
        )
    out.sort(key=lambda a: str(a["under_review_since"]))
    return {"reviews": out}


def _flags_of(account_id: str) -> list[Flag]:
    found = [f for f in Flag.query(account_pk(account_id), Flag.sk.startswith("FLAG#")) if not f.audit_only]
    return sorted(found, key=lambda f: f.created_at, reverse=True)


def account_overview(account_id: str) -> dict[str, Any]:
    """One account as ops need it when someone calls: who, which numbers, what was flagged, whether
    it is under review, its Partner changes — in one answer."""
    account = load_account(account_id)
    phones = []
    for link in phones_of(account_id):
        try:
            phone = PhoneNumber.get(*PhoneNumber.key(link.target_id))
        except PhoneNumber.DoesNotExist:
            continue
        phones.append(
            {
                "phone_number_id": phone.phone_number_id,
                "display": phone.display,
                "meta_phone_number_id": phone.meta_phone_number_id,
                "webhook_host": host_of(phone.webhook_url),
            }
        )
    requests = PartnerChangeRequest.query(account_pk(account_id), PartnerChangeRequest.sk.startswith("PCR#"))
    out: dict[str, Any] = {
        "account": {
            "account_id": account.account_id,
            "name": account.name,
            "kind": account.kind,
            "partner_id": account.partner_id,
            "waba_id": account.waba_id,
            "created_at": account.created_at,
        },
        "review": {"under_review": bool(account.under_review), "reason": account.review_reason},
        "users": [user_view(u) for u in active_users(account_id)],
        "phone_numbers": phones,
        "flags": [flag_view(f) for f in _flags_of(account_id)],
        "partner_change_requests": [partner_change.view(r) for r in requests],
    }
    if account.kind == "partner":
        out["managed_accounts"] = [{"account_id": a.account_id, "name": a.name} for a in managed_accounts(account_id)]
    return out
