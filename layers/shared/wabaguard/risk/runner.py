"""The risk scan's runner: new activity records → per-account state → rules → explained flags.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from wabaguard import clock
from wabaguard.activity import SHARDS, WAKE_KIND, parse_at, schedule_wake
from wabaguard.aws import invoke_async
from wabaguard.config import settings
from wabaguard.models import ActivityRecord, RiskState, ScanCheckpoint, User, account_pk, condition_failed, iso
from wabaguard.people.access import load_account
from wabaguard.risk import flags
from wabaguard.risk import state as state_mod
from wabaguard.risk.flags import accounts_under_review
from wabaguard.risk.model import Context, Finding, Rec, Rule, load_config
from wabaguard.risk.rules import ALL_RULES
from wabaguard.risk.scan import OVERLAP, new_records, position

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


def _acquire(now: float, owner: str, shard: int) -> ScanCheckpoint:
    cp = ScanCheckpoint(*ScanCheckpoint.key(shard))
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


def _release(cp: ScanCheckpoint, owner: str, checkpoint_at: str, retry_from: dict[str, str], behind: bool) -> None:
    cp.update(
        actions=[
            ScanCheckpoint.checkpoint_at.set(checkpoint_at),
            ScanCheckpoint.retry_from.set(retry_from),
            ScanCheckpoint.behind.set(behind),
            ScanCheckpoint.lease_until.set(0),
            ScanCheckpoint.runs.add(1),
        ],
        condition=ScanCheckpoint.lease_owner == owner,
    )


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


def _renew(cp: ScanCheckpoint, owner: str, t: float) -> None:
    """Extend this run's lease while it works; losing it means another run took over: stop."""
    try:
        cp.update(
            actions=[ScanCheckpoint.lease_until.set(int(t) + LEASE_SECONDS)],
            condition=ScanCheckpoint.lease_owner == owner,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise ScanBusy("the lease was taken over; this run stops without moving the checkpoint") from None
        raise


def budget() -> tuple[int, float]:
    """(records, seconds) one run may take on: well inside the Lambda timeout and the lease."""
    cfg = settings()
    return cfg.risk_scan_max_records, cfg.risk_scan_max_seconds


def run_scan(
    now: float | None = None,
    max_records: int | None = None,
    max_seconds: float | None = None,
    shard: int | None = None,
    fan_out: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """One scheduled run over every shard of the activity index (or over ``shard`` alone: a worker).

    Shards that the last run left behind (a backlog) are handed to ``fan_out`` — one worker per
    shard, run in parallel (Lambda async invokes of this function) — when one is given; the others,
    or all of them without ``fan_out``, are scanned here one after the other within this run's
    budget. Returns the counts summed over the shards scanned here and the shards fanned out."""
    if shard is not None:
        return run_shard(shard, now, max_records, max_seconds)
    started = time.monotonic()
    seconds = max_seconds or budget()[1]
    results: list[dict[str, Any]] = []
    fanned: list[int] = []
    for i in range(SHARDS):
        if fan_out is not None and _behind(i):
            fan_out(i)
            fanned.append(i)
            continue
        left = max(1.0, seconds - (time.monotonic() - started))
        results.append(run_shard(i, now, max_records, left))
    return _summed(results, fanned)


def _behind(shard: int) -> bool:
    try:
        return bool(ScanCheckpoint.get(*ScanCheckpoint.key(shard), consistent_read=True).behind)
    except ScanCheckpoint.DoesNotExist:
        return False


def _summed(results: list[dict[str, Any]], fanned: list[int]) -> dict[str, Any]:

    done = [r for r in results if "skipped" not in r]
    return {
        "records_scanned": sum(r["records_scanned"] for r in results),
        "accounts_scanned": sum(r["accounts_scanned"] for r in results),
        "duration_ms": round(sum(r.get("duration_ms", 0.0) for r in results), 1),
        "under_review": accounts_under_review(),
        "failed_accounts": [f for r in results for f in r["failed_accounts"]],
        "behind": any(r.get("behind") for r in results) or bool(fanned),
        "lag_s": max([r.get("lag_s", 0.0) for r in results], default=0.0),
        "checkpoint_age_s": max([r.get("checkpoint_age_s", 0.0) for r in done], default=0.0),
        "skipped": [r["skipped"] for r in results if "skipped" in r],
        "fanned_out": fanned,
        "flags": [f for r in results for f in r["flags"]],
    }


def run_shard(
    shard: int, now: float | None = None, max_records: int | None = None, max_seconds: float | None = None
) -> dict[str, Any]:
    """One run over one shard. Returns counts, the flags raised and how many accounts are under review.

    Bounded: it reads at most ``max_records`` records in arrival order and works at most
    ``max_seconds`` (renewing its lease as it goes), then saves its position — the ``bucket_sk`` of
    the last record it read — so the next run continues there; a backlog of any size drains over
    successive runs, and no record is counted twice (positions never move back; near now, the
    re-read overlap is de-duplicated by record id).

    One account's failure never stops the others: it is logged and counted (``failed_accounts``,
    metric ``ScanAccountErrors``), and the account's records are read again by the next runs from
    the arrival of its oldest unjudged record (``retry_from``); accounts a run has no time left for
    wait there the same way.
    """
    started = time.monotonic()
    records_budget, seconds_budget = budget()
    records_budget = max_records or records_budget
    seconds_budget = max_seconds or seconds_budget
    t = clock.now() if now is None else now
    now_dt = datetime.fromtimestamp(t, tz=UTC)
    owner = uuid.uuid4().hex
    try:
        cp = _acquire(t, owner, shard)
    except ScanBusy:
        return {"skipped": "busy", "records_scanned": 0, "accounts_scanned": 0, "flags": [], "failed_accounts": []}
    cursor = cp.checkpoint_at or position(now_dt - timedelta(hours=1))
    if "#" not in cursor:  # a time from before positions: everything that arrived by then is judged
        cursor = position(parse_at(cursor)) + "#~"
    cursor_at = parse_at(cursor.split("#", 1)[0])
    # Near now the index may not show every record yet: after a run that caught up, read a short
    # overlap again (ids dedupe it; re-read records do not count toward the budget). After a run
    # that stopped at its budget, continue strictly after its last record.
    caught_up = cursor.endswith("#~")
    overlap_from = position(cursor_at - OVERLAP) if caught_up and cursor_at >= now_dt - 2 * OVERLAP else cursor
    retry_from: dict[str, str] = dict(cp.retry_from or {})
    start = min([cursor_at - OVERLAP, *(parse_at(v.split("#", 1)[0]) for v in retry_from.values())])
    by_account: dict[str, list[ActivityRecord]] = defaultdict(list)
    scanned, new, cut = 0, 0, None
    for record in new_records(start, now_dt, shard):
        pos = record.bucket_sk
        fresh = pos > cursor or (caught_up and pos >= overlap_from)
        retry = record.account_id in retry_from and pos >= retry_from[record.account_id]
        if not (fresh or retry):
            continue  # read only because another account's records are being retried
        scanned += 1
        by_account[record.account_id].append(record)
        new += pos > cursor
        if new >= records_budget:
            cut = pos
            break
    active_rules = rules()
    raised: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    waiting: dict[str, str] = {}
    deadline = started + seconds_budget
    out_of_time = False
    renewed = time.monotonic()
    try:
        for account_id, records in sorted(by_account.items()):
            first = min(r.bucket_sk for r in records)
            if time.monotonic() > deadline:
                waiting[account_id] = first  # no time left: the next run reads it again from there
                out_of_time = True
                continue
            if time.monotonic() - renewed > LEASE_SECONDS / 4:
                _renew(cp, owner, clock.now() if now is None else t + (time.monotonic() - started))
                renewed = time.monotonic()
            try:
                raised.extend(scan_account(account_id, records, now_dt, active_rules))
            except Exception as exc:  # isolate the account; the run goes on for the others
                logger.exception("risk scan of an account failed", extra={"account_id": account_id})
                failed.append({"account_id": account_id, "error": type(exc).__name__})
                waiting[account_id] = first
    except ScanBusy:
        return {
            "skipped": "lease lost",
            "records_scanned": scanned,
            "accounts_scanned": 0,
            "flags": raised,
            "failed_accounts": failed,
        }
    # Accounts retried before and not read again in this run keep waiting where they were.
    for account_id, since in retry_from.items():
        if account_id not in by_account and (cut is None or since > cut):
            waiting.setdefault(account_id, since)
    retries = dict(sorted(waiting.items(), key=lambda kv: kv[1])[:MAX_RETRIES])
    new_cursor = cut or position(now_dt) + "#~"
    # Behind: stopped at a budget (more is waiting right now). A failing account is not "behind":
    # it is retried by the next scheduled runs, never in a tight loop.
    behind = cut is not None or out_of_time
    try:
        _release(cp, owner, new_cursor, retries, behind)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        # Another run took the lease over (ours expired): its position stands, ours is dropped;
        # what we judged is de-duplicated by record id when it is read again.
        return {
            "skipped": "lease lost",
            "records_scanned": scanned,
            "accounts_scanned": len(by_account),
            "flags": raised,
            "failed_accounts": failed,
        }
    oldest = min([*([cut] if cut else []), *retries.values()], default=None)
    lag = (t - parse_at(oldest.split("#", 1)[0]).timestamp()) if oldest else 0.0
    return {
        "records_scanned": scanned,
        "accounts_scanned": len(by_account),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
        "under_review": accounts_under_review(),
        "failed_accounts": failed,
        "behind": behind,
        "lag_s": round(max(0.0, lag), 1),
        "checkpoint_age_s": round(t - cursor_at.timestamp(), 1),
        "flags": [{k: v for k, v in f.items() if k != "audit_only"} for f in raised],
    }


def run_invocation(event: Any) -> dict[str, Any]:
    """What one invocation of the scan does: a worker for one shard that is behind (it hands on to
    the next worker while its shard stays behind), or the schedule's run, which scans the shards
    that keep up and gives each one behind a worker of its own. Without its own function name
    (``RISK_SCAN_FUNCTION``) — or when the event says ``"fan_out": false`` — it scans everything here."""
    name = settings().risk_scan_function
    shard = event.get("shard") if isinstance(event, dict) else None
    if shard is not None:
        result = run_scan(shard=int(shard))
        if result.get("behind") and name:
            fan_out(int(shard))
        return result
    spread = bool(name) and not (isinstance(event, dict) and event.get("fan_out", True) is False)
    return run_scan(fan_out=fan_out if spread else None)


def fan_out(shard: int) -> None:
    """One worker for a shard that is behind: this function again, asynchronously."""
    invoke_async(str(settings().risk_scan_function), {"shard": shard})
