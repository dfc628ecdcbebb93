"""Accepts §Activity records from producers (the messaging platform, an identity provider): in
Python with ``ingest``, from any language through the ingest queue (``consume``).

Every record is validated before any is written, so a bad batch writes nothing; records for
unknown account ids create bare Client accounts, so usage is never dropped.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from wabaguard import activity
from wabaguard.aws import client
from wabaguard.errors import InvalidRequest
from wabaguard.models import Account, ActivityRecord, condition_failed, iso
from wabaguard.patterns import COUNTRY, ID

MAX_RECORDS = 1000
KINDS = ("messages_sent", "api_request", "login", "otp_failed", "otp_locked", "key_action", "meta_event")

# ------------------------------------------------------------------ one §Activity record
# Checked by hand, not by a pydantic model like the API's bodies: this is the one function that
# validates on every invocation, and pydantic's import was a fifth of its cold start (issue 26).
# The checks are pydantic's strict mode (JSON's own types, no coercion, unknown fields refused);
# tests/unit/test_ingest_records.py holds them to a pydantic model of the same record.
_ID = re.compile(ID.removeprefix("^").removesuffix("$"))
_COUNTRY = re.compile(COUNTRY.removeprefix("^").removesuffix("$"))
_MAX_COUNT = 10**9


class _Bad(ValueError):
    """A field's value is refused: ``where`` is below the field (a country's key), if anywhere."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def _text(max_length: int, pattern: re.Pattern[str] | None = None, min_length: int = 0) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad("must be a string")
        if len(value) < min_length:
            raise _Bad(f"must be at least {min_length} characters")
        if len(value) > max_length:
            raise _Bad(f"must be at most {max_length} characters")
        if pattern is not None and not pattern.fullmatch(value):
            raise _Bad(f"must match {pattern.pattern}")
        return value

    return check


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad("must be an integer")
    if not 0 <= value <= _MAX_COUNT:
        raise _Bad(f"must be between 0 and {_MAX_COUNT}")
    return value


def _kind(value: Any) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise _Bad("must be one of " + ", ".join(KINDS))
    return value


_at_text = _text(40, min_length=10)


def _at(value: Any) -> str:
    _at_text(value)
    try:
        activity.parse_at(value)
    except ValueError:
        raise _Bad("must be an ISO 8601 timestamp") from None
    return str(value)


_ip_text = _text(45)


def _ip(value: Any) -> str:
    text = _ip_text(value)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _Bad("must be an IP address") from None


_country = _text(2, _COUNTRY)


def _countries(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _Bad("must be an object of country codes to counts")
    for code, n in value.items():
        try:
            _country(code)
        except _Bad:
            raise _Bad("must be an ISO 3166-1 alpha-2 country code", f"{code}") from None
        try:
            _count(n)
        except _Bad as bad:
            raise _Bad(str(bad), f"{code}") from None
    return dict(value)


# Every field a producer may send, in the order they are checked (the first problem is named).
FIELDS: dict[str, Callable[[Any], Any]] = {
    "account_id": _text(64, _ID),
    "kind": _kind,
    "at": _at,
    "record_id": _text(64, _ID),
    "phone_number_id": _text(64, _ID),
    "key_id": _text(64, _ID),
    "user_id": _text(64, _ID),
    "count": _count,
    "countries": _countries,
    "ip": _ip,
    "country": _country,
    "user_agent": _text(512),
    "action": _text(64),
}
MANDATORY = ("account_id", "kind", "at")

REQUIRED: dict[str, tuple[str, ...]] = {
    "messages_sent": ("phone_number_id", "count", "countries"),
    "api_request": ("phone_number_id", "key_id", "count", "ip"),
    "login": ("user_id", "ip"),
    "otp_failed": ("user_id",),
    "otp_locked": ("user_id",),
    "key_action": ("user_id", "action"),
    "meta_event": ("action",),  # Meta's event name (PIN_CHANGED, …), as the Meta webhook records it
}


def check_record(raw: Any, prefix: str = "") -> dict[str, Any]:
    """One §Activity record, checked: its fields without the absent (or null) ones, the IP in its
    canonical form. Raises InvalidRequest naming the first field at fault (``[3].count``)."""

    def at(name: str, where: str = "") -> str:
        return ".".join(p for p in (prefix, name, where) if p)

    if not isinstance(raw, dict):
        raise InvalidRequest(prefix or "body", "must be a JSON object")
    clean: dict[str, Any] = {}
    for name, check in FIELDS.items():
        value = raw.get(name)
        if value is None:
            if name in MANDATORY:
                raise InvalidRequest(at(name), "is required" if name not in raw else "must not be null")
            continue
        try:
            clean[name] = check(value)
        except _Bad as bad:
            raise InvalidRequest(at(name, bad.where), str(bad)) from None
    for name in raw:
        if name not in FIELDS:
            raise InvalidRequest(at(str(name)), "is not a known field")
    for name in REQUIRED[clean["kind"]]:
        if name not in clean:
            raise InvalidRequest(at(name), f"is required for kind {clean['kind']}")
    return clean


def ingest(records: Any) -> dict[str, Any]:
    """Validate then write ``records``; returns how many were written and accounts created."""
    if not isinstance(records, list):
        raise InvalidRequest("body", "must be a JSON list of activity records")
    if len(records) > MAX_RECORDS:
        raise InvalidRequest("body", f"at most {MAX_RECORDS} records per request")
    parsed = [check_record(raw, f"[{i}]") for i, raw in enumerate(records)]
    created = []
    for account_id in sorted({r["account_id"] for r in parsed}):
        if _ensure_account(account_id):
            created.append(account_id)
    items: list[ActivityRecord] = []
    for rec in parsed:
        fields = {k: v for k, v in rec.items() if k not in MANDATORY}
        items.append(activity.build(rec["account_id"], rec["kind"], activity.parse_at(rec["at"]), **fields))
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
