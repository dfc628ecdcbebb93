"""When each WABA is read (§WABA watch): its turn, spread over the period, and the asks for a read
now (a Meta webhook that says someone else may have taken control).

Each WABA has a fixed phase in the period, derived from its id, so the reads of all WABAs are
spread evenly and a WABA's turn does not wander: a read that had to back off is retried sooner,
but the next turn after it is where it always was.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.transactions import TransactWrite

from wabaguard import activity, clock
from wabaguard.config import settings
from wabaguard.models import WabaSnapshot, condition_failed, iso

DUE = "waba_watch"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
stamp = activity.precise


def period() -> timedelta:
    """How often every WABA is read (template parameter ``WabaWatchMinutes``)."""
    return timedelta(minutes=settings().waba_watch_minutes)


def phase(waba_id: str) -> timedelta:
    """The WABA's fixed offset within the period: a hash, so WABAs spread evenly."""
    seconds = int(period().total_seconds())
    return timedelta(seconds=int(hashlib.sha256(waba_id.encode()).hexdigest()[:12], 16) % max(seconds, 1))


def next_turn(waba_id: str, after: datetime) -> datetime:
    """The first turn of the WABA strictly after ``after``."""
    length = period()
    start = EPOCH + phase(waba_id)
    turns = (after - start) // length + 1
    return start + turns * length


def new_snapshot(account_id: str, waba_id: str, now: datetime) -> WabaSnapshot:
    """The watch of a WABA not read yet: due now, so its baseline is taken at the next run."""
    return WabaSnapshot(
        *WabaSnapshot.key(account_id, waba_id),
        account_id=account_id,
        waba_id=waba_id,
        due=DUE,
        due_at=stamp(now),
        slot_at=stamp(now),
        enrolled_at=iso(now),
    )


def enroll_into(tx: TransactWrite, account_id: str, waba_id: str, now: datetime) -> None:
    """Start watching a WABA in the transaction that onboards its account."""
    tx.save(new_snapshot(account_id, waba_id, now), condition=WabaSnapshot.pk.does_not_exist())


def enroll(account_id: str, waba_id: str, now: datetime | None = None) -> bool:
    """Start watching a WABA (accounts onboarded before the watch existed); False when it is
    watched already."""
    try:
        new_snapshot(account_id, waba_id, now or clock.utcnow()).save(condition=WabaSnapshot.pk.does_not_exist())
        return True
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise


def read_soon(account_id: str, waba_id: str, now: datetime | None = None) -> None:
    """Read this WABA at the next run (within a minute), out of its turn: Meta said something
    about it that may mean someone else controls it. A WABA not watched yet is enrolled."""
    now = now or clock.utcnow()
    try:
        WabaSnapshot(*WabaSnapshot.key(account_id, waba_id)).update(
            actions=[WabaSnapshot.due.set(DUE), WabaSnapshot.due_at.set(stamp(now))],
            condition=WabaSnapshot.pk.exists() & (WabaSnapshot.due_at > stamp(now)),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        enroll(account_id, waba_id, now)  # not watched yet (or due already: then nothing is written)
