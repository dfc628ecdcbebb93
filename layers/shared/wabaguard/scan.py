"""Reads what is new in the Activity table, bucket by bucket, since the last checkpoint.

No table Scan: the ``by_bucket`` index is queried one hour-shard at a time, from the checkpoint
(minus a short overlap, because the index is eventually consistent) to now. Duplicates inside the
overlap are dropped by record id, so the work of a run grows with new records, not with history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from wabaguard.activity import SHARDS
from wabaguard.models import ActivityRecord

OVERLAP = timedelta(minutes=10)
MAX_WINDOW = timedelta(days=2)  # after a long outage, catch up at most this far back


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


def new_records(since: datetime | None, now: datetime) -> Iterator[ActivityRecord]:
    """Records that arrived in (since - overlap, now], oldest bucket first."""
    start = (since - OVERLAP) if since else now - timedelta(hours=1)
    start = max(start, now - MAX_WINDOW)
    low = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the precision of bucket_sk
    # Nothing from the future: a wake-up record (``activity.schedule_wake``) waits in its bucket
    # until its time; "~" sorts after every record id, so all of ``now``'s microsecond is in.
    high = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "#~"
    for hour in hours_between(start, now):
        for shard in range(SHARDS):
            bucket = f"T#{hour.strftime('%Y%m%d%H')}#{shard}"
            yield from ActivityRecord.by_bucket.query(bucket, ActivityRecord.bucket_sk.between(low, high))
