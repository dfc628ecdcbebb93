"""Accepts §Activity records from producers (the messaging platform, an identity provider): in
Python with ``ingest``, from any language through the ingest queue (``consume``).

Every record is validated before any is written, so a bad batch writes nothing; records for
unknown account ids create bare Client accounts, so usage is never dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pynamodb.exceptions import PutError

from wabaguard import activity
from wabaguard.aws import client
from wabaguard.errors import InvalidRequest
from wabaguard.models import Account, ActivityRecord, condition_failed, iso
from wabaguard.strict import COUNTRY, ID, Strict, parse

MAX_RECORDS = 1000


class ActivityIn(Strict):
    """One §Activity record as producers send it."""

    account_id: Annotated[str, Field(pattern=ID)]
    kind: Literal["messages_sent", "api_request", "login", "otp_failed", "otp_locked", "key_action", "meta_event"]
    at: Annotated[str, Field(min_length=10, max_length=40)]
    record_id: Annotated[str, Field(pattern=ID)] | None = None
    phone_number_id: Annotated[str, Field(pattern=ID)] | None = None
    key_id: Annotated[str, Field(pattern=ID)] | None = None
    user_id: Annotated[str, Field(pattern=ID)] | None = None
    count: Annotated[int, Field(ge=0, le=10**9)] | None = None
    countries: dict[Annotated[str, Field(pattern=COUNTRY)], Annotated[int, Field(ge=0, le=10**9)]] | None = None
    ip: Annotated[str, Field(max_length=45)] | None = None
    country: Annotated[str, Field(pattern=COUNTRY)] | None = None
    user_agent: Annotated[str, Field(max_length=512)] | None = None
    action: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: str) -> str:
        try:
            activity.parse_at(value)
        except ValueError as exc:
            raise ValueError("must be an ISO 8601 timestamp") from exc
        return value

    @field_validator("ip")
    @classmethod
    def _check_ip(cls, value: str | None) -> str | None:
        import ipaddress

        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise ValueError("must be an IP address") from exc


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
        rec = parse(ActivityIn, raw, f"[{i}]")
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


# ------------------------------------------------------------------ the ingest queue (any language)
MAX_PER_MESSAGE = 500


@dataclass
class Consumed:
    """What became of one queue message: records written, or refused (all of them) and why."""

    accepted: int = 0
    refused: int = 0
    reason: str | None = None


def consume(body: str, message_id: str, dead_letter_url: str | None) -> Consumed:
    """One message of ``ActivityIngestQueue``: a JSON list of at most 500 §Activity records.

    All records are checked before any is written; a message with an invalid record is moved to
    the queue's DLQ with the reason (a message attribute) and nothing of it is written — a
    producer's bug never turns into half a batch. Records without a ``record_id`` get one derived
    from the message id and their position, so a message SQS delivers twice writes the same items
    twice (the same keys), never double counts. Other failures (DynamoDB throttling) raise: SQS
    redelivers the message, and after its redrive count moves it to the DLQ itself.
    """
    try:
        records = json.loads(body)
    except ValueError:
        return _refuse(body, message_id, "body: is not valid JSON", 1, dead_letter_url)
    count = len(records) if isinstance(records, list) else 1
    if isinstance(records, list) and len(records) > MAX_PER_MESSAGE:
        reason = f"body: at most {MAX_PER_MESSAGE} records per message (got {len(records)})"
        return _refuse(body, message_id, reason, count, dead_letter_url)
    if isinstance(records, list):
        stem = "q" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
        records = [
            {**r, "record_id": r.get("record_id") or f"{stem}-{i}"} if isinstance(r, dict) else r
            for i, r in enumerate(records)
        ]
    try:
        written = ingest(records)
    except InvalidRequest as exc:
        return _refuse(body, message_id, exc.detail, count, dead_letter_url)
    return Consumed(accepted=int(written["written"]))


def _refuse(body: str, message_id: str, reason: str, count: int, dead_letter_url: str | None) -> Consumed:
    if not dead_letter_url:  # fail closed: without its DLQ a refused message would be lost
        raise RuntimeError("ACTIVITY_INGEST_DLQ_URL is not set: refused records would be lost")
    client("sqs").send_message(
        QueueUrl=dead_letter_url,
        MessageBody=body,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "source_message_id": {"DataType": "String", "StringValue": message_id},
        },
    )
    return Consumed(refused=count, reason=reason)
