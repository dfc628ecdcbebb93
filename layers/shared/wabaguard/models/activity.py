"""The Activity table (usage records and security events, §Activity) and the notifier's progress
records (the Idempotency table)."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from wabaguard.config import _str
from wabaguard.models.base import Item, _region


class BucketIndex(GlobalSecondaryIndex["ActivityRecord"]):
    """Reads one time bucket (``T#<yyyyMMddHH>#<shard>``) at a time, oldest first."""

    class Meta:
        index_name = "by_bucket"
        projection = AllProjection()

    bucket = UnicodeAttribute(hash_key=True)
    bucket_sk = UnicodeAttribute(range_key=True)


class ActivityRecord(Item):
    """A usage record or security event (§Activity). Kept 90 days."""

    class Meta:
        table_name = _str("ACTIVITY_TABLE")
        region = _region()

    pk = UnicodeAttribute(hash_key=True)  # ACCOUNT#<account_id>
    sk = UnicodeAttribute(range_key=True)  # <S|U>#<at>#<record_id>
    bucket = UnicodeAttribute()
    bucket_sk = UnicodeAttribute()
    by_bucket = BucketIndex()
    ttl = TTLAttribute(null=True)
    record_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    at = UnicodeAttribute()
    phone_number_id = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    # ``count`` in the item; renamed in Python because Model.count() is a classmethod.
    msg_count = NumberAttribute(null=True, attr_name="count")
    countries = MapAttribute(null=True)  # type: ignore[var-annotated]
    ip = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    action = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)  # the API Gateway request that wrote it (log correlation)


# ------------------------------------------------------------------ Idempotency table
class NoticeProgress(Item):
    """Which recipients of one stream record's notices were told (``notices.progress``): one item
    per record, not two writes per recipient as Powertools Idempotency kept (issue 26)."""

    class Meta:
        table_name = _str("IDEMPOTENCY_TABLE")
        region = _region()

    id = UnicodeAttribute(hash_key=True)  # "notices#" + the stream record's event id
    expiration = TTLAttribute(null=True)
    claimed_until = NumberAttribute(null=True)  # an invocation works on the record until then
    told = UnicodeSetAttribute(null=True)  # short digests of the recipients whose notice went out
