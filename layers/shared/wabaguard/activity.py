"""Writes §Activity records: usage aggregates and security events, one shape, kept 90 days.

Each record is also placed in a time bucket (``T#<yyyyMMddHH>#<shard>``) of the ``by_bucket``
index so the risk scan reads only what is new, a few shards per hour so no partition runs hot; the
shard is the account's, so one scan worker per shard sees every record of its accounts.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from wabaguard import clock
from wabaguard.config import ACTIVITY_SHARDS
from wabaguard.location import country_of
from wabaguard.models import ActivityRecord, account_pk, iso
from wabaguard.security import new_id

SHARDS = ACTIVITY_SHARDS  # template parameter ActivityShards: increase only
RETENTION = timedelta(days=90)
SECURITY_KINDS = frozenset(
    {
        "login",
        "otp_failed",
        "otp_locked",
        "otp_replayed",
        "otp_reused",
        "key_action",
        "api_key_revoked",
        "report",
        "platform_change",
        "meta_event",
        "partner_change",
        "invite_accepted",
        "passkey_clone_suspected",
    }
)
USAGE_KINDS = frozenset({"messages_sent", "api_request"})
KINDS = SECURITY_KINDS | USAGE_KINDS


MAX_USER_AGENT = 256  # client text: kept short wherever it is stored or shown


@dataclass(frozen=True)
class RequestMeta:
    """Where a request came from, as API Gateway saw it."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None  # API Gateway's; carried into change records for log correlation

    @property
    def country(self) -> str | None:
        """The source IP's country: never a header the client can set (looked up on first use)."""
        return country_of(self.ip)


def request_meta(ip: str | None, user_agent: str | None, request_id: str | None) -> RequestMeta:
    """Where a request came from: the source IP API Gateway saw, the user agent (truncated), the
    request id. No location header is read: a regional endpoint passes any header from the client."""
    return RequestMeta(
        ip=ip or None,
        user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
        request_id=request_id or None,
    )


def meta_of(event: Any) -> RequestMeta:
    """``request_meta`` read off any API Gateway REST event data class (proxy or REQUEST authorizer)."""
    identity = event.request_context.identity
    return request_meta(identity.source_ip, identity.user_agent, event.request_context.request_id)


def shard_of(account_id: str) -> int:
    """An account's records all land in one shard, so one scan worker sees all of them (in order)."""
    return zlib.crc32(account_id.encode()) % SHARDS


def bucket_of(at: datetime, account_id: str) -> str:
    return f"T#{at.strftime('%Y%m%d%H')}#{shard_of(account_id)}"


def parse_at(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive times are UTC. Raises ValueError."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def precise(ts: datetime) -> str:
    """Microsecond UTC ISO time: sortable, so keys built from it keep event order."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(account_id: str, kind: str, at: datetime, **fields: Any) -> ActivityRecord:
    """An unsaved record with its keys, bucket and TTL filled in.

    ``at`` is when it happened (orders the audit log); the time bucket is when it *arrived*, so the
    risk scan, which reads buckets since its checkpoint, also sees aggregates that arrive late.
    """
    record_id = fields.pop("record_id", None) or new_id("act")
    arrived = clock.utcnow()
    if "count" in fields:
        fields["msg_count"] = fields.pop("count")
    at_text = iso(at)
    at_precise = precise(at)  # orders events within a second
    prefix = "S" if kind in SECURITY_KINDS else "U"
    return ActivityRecord(
        pk=account_pk(account_id),
        sk=f"{prefix}#{at_precise}#{record_id}",
        bucket=bucket_of(arrived, account_id),
        bucket_sk=f"{precise(arrived)}#{record_id}",
        ttl=at + RETENTION,
        record_id=record_id,
        account_id=account_id,
        kind=kind,
        at=at_text,
        **{k: v for k, v in fields.items() if v is not None},
    )


WAKE_KIND = "scan_wake"


def schedule_wake(account_id: str, due: datetime) -> ActivityRecord:
    """Ask the risk scan to look at an account at ``due`` even if nothing arrives for it by then
    (a dormant account's users still go stale). The record sits in the time bucket of ``due``, so
    the scan reads it when it gets there, and outside the account's partition, so no audit log or
    rule ever sees it as activity."""
    record_id = new_id("wake")
    item = ActivityRecord(
        pk=f"WAKE#{account_id}",
        sk=f"{precise(due)}#{record_id}",
        bucket=bucket_of(due, account_id),
        bucket_sk=f"{precise(due)}#{record_id}",
        ttl=due + timedelta(days=7),
        record_id=record_id,
        account_id=account_id,
        kind=WAKE_KIND,
        at=iso(due),
    )
    item.save()
    return item


def record(
    account_id: str, kind: str, meta: RequestMeta | None = None, at: datetime | None = None, **fields: Any
) -> ActivityRecord:
    """Write one security event now (or at ``at``)."""
    meta = meta or RequestMeta()
    item = build(
        account_id,
        kind,
        at or clock.utcnow(),
        ip=meta.ip,
        user_agent=meta.user_agent,
        country=meta.country,
        request_id=meta.request_id,
        **fields,
    )
    item.save()
    return item


def public_view(item: ActivityRecord) -> dict[str, Any]:
    """What the audit log shows of a record (no secret is ever stored in one)."""
    out: dict[str, Any] = {"event_id": item.record_id, "kind": item.kind, "at": item.at}
    for name in (
        "user_id",
        "phone_number_id",
        "key_id",
        "action",
        "ip",
        "country",
        "user_agent",
        "msg_count",
        "detail",
    ):
        value = getattr(item, name)
        if value is not None:
            out["count" if name == "msg_count" else name] = int(value) if name == "msg_count" else value
    if item.countries is not None:
        out["countries"] = {k: int(v) for k, v in item.countries.as_dict().items()}
    return out
