"""The risk scan: new activity records → per-account state → rules → explained flags.

Safe when runs overlap or die halfway: a lease on the checkpoint lets one run work at a time (an
expired lease is taken over), the checkpoint only moves after every account's state is saved, and
each account's state remembers the ids of records it counted inside the re-read overlap, so a
record read twice is counted once.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from wabaguard import clock
from wabaguard.activity import parse_at
from wabaguard.models import ActivityRecord, RiskState, ScanCheckpoint, iso
from wabaguard.scan import OVERLAP, new_records

LEASE_SECONDS = 240


class ScanBusy(RuntimeError):
    """Another run holds the lease; this run does nothing (the next schedule catches up)."""


def _acquire(now: float, owner: str) -> ScanCheckpoint:
    cp = ScanCheckpoint(*ScanCheckpoint.key())
    try:
        cp.update(
            actions=[ScanCheckpoint.lease_until.set(int(now) + LEASE_SECONDS), ScanCheckpoint.lease_owner.set(owner)],
            condition=ScanCheckpoint.lease_until.does_not_exist() | (ScanCheckpoint.lease_until < int(now)),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            raise ScanBusy("another risk scan is running") from None
        raise
    return cp


def _release(cp: ScanCheckpoint, owner: str, checkpoint_at: str) -> None:
    cp.update(
        actions=[
            ScanCheckpoint.checkpoint_at.set(checkpoint_at),
            ScanCheckpoint.lease_until.set(0),
            ScanCheckpoint.runs.add(1),
        ],
        condition=ScanCheckpoint.lease_owner == owner,
    )


def apply_records(
    account_id: str, records: list[ActivityRecord], now: datetime
) -> tuple[RiskState, list[ActivityRecord]]:
    """Fold new records into the account's state (optimistic locking); returns the state and the
    records that were really new to it."""
    for _ in range(5):
        try:
            state = RiskState.get(*RiskState.key(account_id), consistent_read=True)
        except RiskState.DoesNotExist:
            state = RiskState(
                *RiskState.key(account_id), account_id=account_id, first_seen_at=iso(now), state={}, recent_ids={}
            )
        recent = dict(state.recent_ids or {})
        fresh = [r for r in records if r.record_id not in recent]
        for r in fresh:
            recent[r.record_id] = r.at
        horizon = iso(now - 3 * OVERLAP)  # older records can no longer be re-read
        state.recent_ids = {k: v for k, v in recent.items() if v >= horizon}
        data = dict(state.state or {})
        last_active = dict(data.get("last_active", {}))
        for r in fresh:
            if r.user_id and r.at > last_active.get(r.user_id, ""):
                last_active[r.user_id] = r.at
        data["last_active"] = last_active
        data["records"] = int(data.get("records", 0)) + len(fresh)
        state.state = data
        try:
            state.save()
            return state, fresh
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
    raise RuntimeError(f"could not update risk state of {account_id} (contention)")


def run_scan(now: float | None = None, metrics: Any = None) -> dict[str, Any]:
    """One scheduled run. Returns counts and the flags raised."""
    started = time.monotonic()
    t = clock.now() if now is None else now
    now_dt = datetime.fromtimestamp(t, tz=UTC)
    owner = uuid.uuid4().hex
    try:
        cp = _acquire(t, owner)
    except ScanBusy:
        return {"skipped": "busy", "records_scanned": 0, "accounts_scanned": 0, "flags": []}
    since = parse_at(cp.checkpoint_at) if cp.checkpoint_at else None
    by_account: dict[str, list[ActivityRecord]] = defaultdict(list)
    scanned = 0
    for record in new_records(since, now_dt):
        scanned += 1
        by_account[record.account_id].append(record)
    flags: list[dict[str, Any]] = []
    new_total = 0
    for account_id, records in sorted(by_account.items()):
        _, fresh = apply_records(account_id, records, now_dt)
        new_total += len(fresh)
    _release(cp, owner, iso(now_dt))
    duration = time.monotonic() - started
    if metrics is not None:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics.add_metric(name="RecordsScanned", unit=MetricUnit.Count, value=scanned)
        metrics.add_metric(name="AccountsScanned", unit=MetricUnit.Count, value=len(by_account))
        metrics.add_metric(name="ScanDuration", unit=MetricUnit.Milliseconds, value=duration * 1000)
    return {
        "records_scanned": scanned,
        "records_new": new_total,
        "accounts_scanned": len(by_account),
        "duration_ms": round(duration * 1000, 1),
        "flags": flags,
    }
