"""Reads what is new in the Activity table, bucket by bucket, since the last checkpoint.

No table Scan: the ``by_bucket`` index is queried one hour-shard at a time, in arrival order, from
the shard's checkpoint to now; near now a short overlap is read again because the
index is eventually consistent, and duplicates inside it are dropped by record id. The work of a
run grows with new records, not with history, and is bounded by the caller's budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from wabaguard.models import ActivityRecord

OVERLAP = timedelta(minutes=10)
MAX_WINDOW = timedelta(days=2)  # after a long outage, catch up at most this far back


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


def position(at: datetime) -> str:
    """An arrival position at the precision of ``bucket_sk`` (``<time>#<record id>``)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_records(start: datetime, now: datetime, shard: int) -> Iterator[ActivityRecord]:
    """Records of one shard that arrived in [start, now], in arrival order (``bucket_sk``), so a
    run can stop anywhere and resume at that position."""
    start = max(start, now - MAX_WINDOW)
    low = position(start)
    # Nothing from the future: a wake-up record (``activity.schedule_wake``) waits in its bucket
    # until its time; "~" sorts after every record id, so all of ``now``'s microsecond is in.
    high = position(now) + "#~"
    for hour in hours_between(start, now):
        bucket = f"T#{hour.strftime('%Y%m%d%H')}#{shard}"
        yield from ActivityRecord.by_bucket.query(bucket, ActivityRecord.bucket_sk.between(low, high))
