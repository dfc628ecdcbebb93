"""The risk scan: new activity records → per-account state → rules → explained flags.

Safe when runs overlap or die halfway: a lease on the checkpoint lets one run work at a time (an
expired lease is taken over); each account's state remembers the ids of the records it counted
inside the re-read overlap, so a record read twice is counted once; the checkpoint only moves
after every account is done, so a run that dies is simply redone by the next.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from wabaguard import clock
from wabaguard.activity import WAKE_KIND, parse_at, schedule_wake
from wabaguard.models import ActivityRecord, RiskState, ScanCheckpoint, User, account_pk, condition_failed, iso
from wabaguard.risk import state as state_mod
from wabaguard.risk.model import Context, Finding, Rec, Rule, load_config
from wabaguard.risk.rules import ALL_RULES
from wabaguard.scan import OVERLAP, new_records

logger = logging.getLogger(__name__)

LEASE_SECONDS = 240
MAX_RECENT_IDS = 3000  # overlap ids kept per account (newest arrivals); with the state's budget, well under 400 KB
MAX_RETRIES = 1000  # accounts whose records wait for another try


class ScanBusy(RuntimeError):
    """Another run holds the lease; this run does nothing (the next schedule catches up)."""


def rules() -> list[Rule]:
    config = load_config()
    unknown = set(config) - {r.id for r in ALL_RULES}
    if unknown:
        raise ValueError(f"RISK_RULES_CONFIG names unknown rules {sorted(unknown)}")
    return [r.configured(config) for r in ALL_RULES]


def to_rec(item: ActivityRecord) -> Rec:
    countries = {k: int(v) for k, v in item.countries.as_dict().items()} if item.countries is not None else {}
    return Rec(
        record_id=item.record_id,
        kind=item.kind,
        at=parse_at(item.at),
        account_id=item.account_id,
        phone_number_id=item.phone_number_id,
        key_id=item.key_id,
        user_id=item.user_id,
        count=int(item.msg_count or 0),
        countries=countries,
        ip=item.ip,
        country=item.country,
        action=item.action,
        detail=item.detail,
        request_id=item.request_id,
    )


def explain(rule: Rule, finding: Finding) -> str:
    return rule.explanation.format(**finding.values)


def evaluate(rule: Rule, ctx: Context) -> Finding | None:
    """Run one rule with its thresholds."""
    ctx.thresholds = rule.thresholds
    return rule.evaluate(ctx)


def _acquire(now: float, owner: str) -> ScanCheckpoint:
    cp = ScanCheckpoint(*ScanCheckpoint.key())
    try:
        cp.update(
            actions=[ScanCheckpoint.lease_until.set(int(now) + LEASE_SECONDS), ScanCheckpoint.lease_owner.set(owner)],
            condition=ScanCheckpoint.lease_until.does_not_exist() | (ScanCheckpoint.lease_until < int(now)),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise ScanBusy("another risk scan is running") from None
        raise
    return cp


def _release(cp: ScanCheckpoint, owner: str, checkpoint_at: str, retry_from: dict[str, str]) -> None:
    cp.update(
        actions=[
            ScanCheckpoint.checkpoint_at.set(checkpoint_at),
            ScanCheckpoint.retry_from.set(retry_from),
            ScanCheckpoint.lease_until.set(0),
            ScanCheckpoint.runs.add(1),
        ],
        condition=ScanCheckpoint.lease_owner == owner,
    )


def _arrived(record: ActivityRecord) -> str:
    return record.bucket_sk.split("#", 1)[0]


def _users(account_id: str) -> dict[str, dict[str, str]]:
    return {
        u.user_id: {"email": u.email, "created_at": u.created_at}
        for u in User.query(account_pk(account_id), User.sk.startswith("USER#"))
        if u.status == "active"
    }


def _next_wake(active_rules: list[Rule], ctx: Context, scheduled: str | None) -> datetime | None:
    """The wake-up to schedule now, or None when the one already scheduled comes early enough."""
    wanted = [w for rule in active_rules if rule.wake is not None and (w := _wake_of(rule, ctx)) is not None]
    if not wanted:
        return None
    due = min(wanted)
    if scheduled is not None and ctx.now < parse_at(scheduled) <= due:
        return None
    return due


def _wake_of(rule: Rule, ctx: Context) -> datetime | None:
    assert rule.wake is not None
    ctx.thresholds = rule.thresholds
    return rule.wake(ctx)


SLICE = timedelta(hours=1)
TAIL = timedelta(minutes=30)  # security events this close before a slice are shown to it again (bursts)
HISTORICAL = timedelta(hours=24)
USAGE = frozenset({"messages_sent", "api_request"})


@dataclass
class Judged:
    """A rule's finding on one event-time slice."""

    rule: Rule
    finding: Finding
    at: datetime  # the end of the slice (when it happened, not when it arrived)
    historical: bool


def judge(
    account_id: str,
    state: dict[str, Any],
    usage: list[Rec],
    now: datetime,
    first_seen: datetime,
    users: dict[str, dict[str, str]],
    active_rules: list[Rule],
) -> tuple[dict[str, Any], list[Judged], Context]:
    """Fold ``usage`` into ``state`` in event-time order, one hour at a time, and judge each hour
    against the state built from everything that happened before it — in earlier runs or earlier
    in this batch — so a verdict never depends on how records were batched on arrival.

    Rules about the absence of activity (those with ``wake``) are judged once, at ``now``, on the
    whole state. Returns the new state, the findings (at most one per rule: the most recent live
    one, else the most recent historical one) and the final context."""
    slices: dict[datetime, list[Rec]] = defaultdict(list)
    for r in sorted(usage, key=lambda rec: rec.at):
        slices[r.at.replace(minute=0, second=0, microsecond=0)].append(r)
    per_slice = [rule for rule in active_rules if rule.wake is None]
    found: dict[str, Judged] = {}
    tail: list[Rec] = []
    start = state
    for hour in sorted(slices):
        records = slices[hour]
        end = min(hour + SLICE, now)
        after = state_mod.fold(state, records, now)
        ctx = Context(account_id, end, state, {**after, "users": users}, [*tail, *records], first_seen)
        for rule in per_slice:
            finding = evaluate(rule, ctx)
            if finding is not None:
                historical = end < now - HISTORICAL
                best = found.get(rule.id)
                if best is None or best.historical or not historical:
                    found[rule.id] = Judged(rule, finding, end, historical)
        tail = [r for r in records if r.kind not in USAGE and r.at >= hour + SLICE - TAIL]
        state = after
    final = Context(account_id, now, start, {**state, "users": users}, list(usage), first_seen)
    for rule in active_rules:
        if rule.wake is not None and (finding := evaluate(rule, final)) is not None:
            found[rule.id] = Judged(rule, finding, now, False)
    return state, list(found.values()), final


def scan_account(
    account_id: str, records: list[ActivityRecord], now: datetime, active_rules: list[Rule]
) -> list[dict[str, Any]]:
    """Fold new records into one account's state (by event time) and raise what the rules find."""
    from wabaguard import flags
    from wabaguard.access import load_account

    users: dict[str, dict[str, str]] | None = None
    for _ in range(5):
        try:
            saved = RiskState.get(*RiskState.key(account_id), consistent_read=True)
        except RiskState.DoesNotExist:
            saved = RiskState(
                *RiskState.key(account_id), account_id=account_id, first_seen_at=iso(now), state={}, recent_ids={}
            )
        recent = dict(saved.recent_ids or {})
        fresh = [to_rec(r) for r in records if r.record_id not in recent]
        if not fresh:
            return []
        users = _users(account_id) if users is None else users
        usage = [r for r in fresh if r.kind != WAKE_KIND]  # a wake-up only makes the rules look
        earliest = iso(min(r.at for r in usage)) if usage else saved.first_seen_at
        if earliest < saved.first_seen_at:
            saved.first_seen_at = earliest  # history imported late still counts as history
        after, found, ctx = judge(
            account_id, saved.state or {}, usage, now, parse_at(saved.first_seen_at), users, active_rules
        )
        wake = _next_wake(active_rules, ctx, after.get("wake_at"))
        if wake is not None:
            schedule_wake(account_id, wake)  # written twice if the save below races: harmless
            after["wake_at"] = iso(wake)
        arrivals = {r.record_id: r.bucket_sk.split("#", 1)[0] for r in records}
        for r in fresh:
            recent[r.record_id] = arrivals[r.record_id]
        horizon = (now - 3 * OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # arrived earlier: never re-read
        kept = {k: v for k, v in recent.items() if v >= horizon}
        saved.recent_ids = dict(sorted(kept.items(), key=lambda kv: kv[1])[-MAX_RECENT_IDS:])
        saved.state = after
        try:
            saved.save()  # VersionAttribute: a concurrent writer makes us start over
            break
        except PutError as exc:
            if not condition_failed(exc):
                raise
    else:
        raise RuntimeError(f"could not update the risk state of {account_id}")

    raised: list[dict[str, Any]] = []
    account = None
    for judged in found:
        rule, finding = judged.rule, judged.finding
        account = account or load_account(account_id)
        severity = finding.severity or rule.severity
        explanation = explain(rule, finding)
        if judged.historical:
            explanation = f"historical (happened by {iso(judged.at)}, arrived late): {explanation}"
        audit_only = rule.audit_only or judged.historical
        flag = flags.raise_flag(
            account,
            rule.id,
            severity,
            explanation,
            [r.evidence() for r in finding.evidence],
            finding.subject,
            audit_only=audit_only,
            now=now,
        )
        if flag is not None:
            raised.append(
                {
                    "flag_id": flag.flag_id,
                    "account_id": account_id,
                    "rule": rule.id,
                    "severity": severity,
                    "explanation": explanation,
                    "evidence": flag.evidence,
                    "audit_only": audit_only,
                    "historical": judged.historical,
                }
            )
    return raised


def run_scan(now: float | None = None) -> dict[str, Any]:
    """One scheduled run. Returns counts, the flags raised and how many accounts are under review.

    One account's failure never stops the others: it is logged and counted (``failed_accounts``,
    metric ``ScanAccountErrors``), and the account's records are read again by the next runs from
    the arrival of its oldest unjudged record (``retry_from``), so nothing is lost while the
    checkpoint moves on for everyone else.
    """
    from wabaguard.flags import accounts_under_review

    started = time.monotonic()
    t = clock.now() if now is None else now
    now_dt = datetime.fromtimestamp(t, tz=UTC)
    owner = uuid.uuid4().hex
    try:
        cp = _acquire(t, owner)
    except ScanBusy:
        return {"skipped": "busy", "records_scanned": 0, "accounts_scanned": 0, "flags": [], "failed_accounts": []}
    since = parse_at(cp.checkpoint_at) if cp.checkpoint_at else None
    retry_from: dict[str, str] = dict(cp.retry_from or {})
    start = min([since, *(parse_at(v) for v in retry_from.values())], default=None) if since else None
    fresh_from = (since - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if since else ""
    by_account: dict[str, list[ActivityRecord]] = defaultdict(list)
    scanned = 0
    for record in new_records(start, now_dt):
        arrived = _arrived(record)
        if arrived < fresh_from and not (record.account_id in retry_from and arrived >= retry_from[record.account_id]):
            continue  # read only because another account's records are being retried
        scanned += 1
        by_account[record.account_id].append(record)
    active_rules = rules()
    raised: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    still_failing: dict[str, str] = {}
    for account_id, records in sorted(by_account.items()):
        try:
            raised.extend(scan_account(account_id, records, now_dt, active_rules))
        except Exception as exc:  # isolate the account; the run goes on for the others
            logger.exception("risk scan of an account failed", extra={"account_id": account_id})
            failed.append({"account_id": account_id, "error": type(exc).__name__})
            still_failing[account_id] = min(_arrived(r) for r in records)
    retries = dict(sorted(still_failing.items(), key=lambda kv: kv[1])[:MAX_RETRIES])
    _release(cp, owner, iso(now_dt), retries)
    return {
        "records_scanned": scanned,
        "accounts_scanned": len(by_account),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
        "under_review": accounts_under_review(),
        "failed_accounts": failed,
        "checkpoint_age_s": round(t - since.timestamp(), 1) if since else 0.0,
        "flags": [{k: v for k, v in f.items() if k != "audit_only"} for f in raised],
    }
