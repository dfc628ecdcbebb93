"""Accepts §Activity records from producers (the messaging platform, an identity provider).

Every record is validated before any is written, so a bad batch writes nothing; records for
unknown account ids create bare Client accounts, so usage is never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from wabaguard import activity, schemas
from wabaguard.errors import InvalidRequest
from wabaguard.models import Account, ActivityRecord, condition_failed, iso

MAX_RECORDS = 1000
REQUIRED: dict[str, tuple[str, ...]] = {
    "messages_sent": ("phone_number_id", "count", "countries"),
    "api_request": ("phone_number_id", "key_id", "count", "ip"),
    "login": ("user_id", "ip"),
    "otp_failed": ("user_id",),
    "otp_locked": ("user_id",),
    "key_action": ("user_id", "action"),
    "meta_event": ("action",),  # Meta's event name (PIN_CHANGED, …), as the Meta webhook records it
}


def ingest(records: Any) -> dict[str, Any]:
    """Validate then write ``records``; returns how many were written and accounts created."""
    if not isinstance(records, list):
        raise InvalidRequest("body", "must be a JSON list of activity records")
    if len(records) > MAX_RECORDS:
        raise InvalidRequest("body", f"at most {MAX_RECORDS} records per request")
    parsed = []
    for i, raw in enumerate(records):
        rec = schemas.parse(schemas.ActivityIn, raw, f"[{i}]")
        for name in REQUIRED[rec.kind]:
            if getattr(rec, name) is None:
                raise InvalidRequest(f"[{i}].{name}", f"is required for kind {rec.kind}")
        parsed.append(rec)
    created = []
    for account_id in sorted({r.account_id for r in parsed}):
        if _ensure_account(account_id):
            created.append(account_id)
    items: list[ActivityRecord] = []
    for rec in parsed:
        fields = rec.model_dump(exclude_none=True, exclude={"account_id", "kind", "at"})
        items.append(activity.build(rec.account_id, rec.kind, activity.parse_at(rec.at), **fields))
    with ActivityRecord.batch_write() as batch:
        for item in items:
            batch.save(item)
    return {"written": len(items), "accounts_created": created}


def _ensure_account(account_id: str) -> bool:
    try:
        Account(
            *Account.key(account_id),
            account_id=account_id,
            name=account_id,
            kind="client",
            under_review=False,
            created_at=iso(datetime.now(UTC)),
        ).save(condition=Account.pk.does_not_exist())
        return True
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
