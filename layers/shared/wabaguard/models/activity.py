"""The Activity table (usage records and security events, §Activity) and Powertools'
idempotency records."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from wabaguard.config import _str
from wabaguard.models.base import _region


class BucketIndex(GlobalSecondaryIndex["ActivityRecord"]):
    """Reads one time bucket (``T#<yyyyMMddHH>#<shard>``) at a time, oldest first."""

    class Meta:
        index_name = "by_bucket"
        projection = AllProjection()

    bucket = UnicodeAttribute(hash_key=True)
    bucket_sk = UnicodeAttribute(range_key=True)


class ActivityRecord(Model):
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
class IdempotencyRecord(Model):
    """The item Powertools Idempotency writes (its DynamoDBPersistenceLayer owns the fields)."""

    class Meta:
        table_name = _str("IDEMPOTENCY_TABLE")
        region = _region()

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
    status = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)
