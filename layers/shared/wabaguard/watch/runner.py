"""One run of the WABA watch (§WABA watch): read the WABAs whose turn has come, compare each with
its last snapshot and with what wabaguard applied since, and tell what nobody approved.

A read is claimed like any due work (``due.claim``), so two runs never read one WABA at once; the
snapshot is replaced under a condition on the read it replaces, so a difference is found — and
told — once. A flag is raised before the drift is written: a run that dies in between finds the
same difference next time, and the open flag is not raised twice.

Good Graph citizen: at most ``WabaWatchMaxCalls`` calls per run (a WABA that does not fit waits
for the next run, its turn kept); throttling and temporary errors back off that WABA only; a
refused system-user token pauses every read (the next would fail alike) and fires the Platform
config alarm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError

from wabaguard import activity, clock, due
from wabaguard.config import settings
from wabaguard.due import Tally
from wabaguard.models import (
    Account,
    PartnerChangeRequest,
    PlatformChange,
    WabaDrift,
    WabaSnapshot,
    WatchPause,
    account_pk,
    condition_failed,
    drift_sk,
    iso,
    system_change,
    transaction,
)
from wabaguard.people.access import account_or_none
from wabaguard.risk import flags
from wabaguard.security import new_id
from wabaguard.watch import compare, reads, schedule
from wabaguard.watch.compare import Applied, Difference
from wabaguard.whatsapp.graph import Graph

RULE = "waba_drift"
BY = "wabaguard WABA watch"
LEASE = timedelta(minutes=5)  # longer than one WABA's reads with their timeouts
BACKOFF_S = (60, 120, 300, 600, 1800)  # after the n-th failed read in a row (capped at the last)
PAUSE = timedelta(minutes=15)  # a refused token: every read waits this long, then one tries again
EXPLAIN_MARGIN = timedelta(hours=1)  # Meta may show a change a little after it answered the call
PARTNER_MATCH = timedelta(days=30)  # a submitted Partner change explains app moves this long

GraphFactory = Callable[[], Graph]


@dataclass
class Summary(Tally):
    """What one run did (the handler turns it into metrics)."""

    watched: int = 0  # good reads
    baselines: int = 0
    drifts: int = 0  # reads that found a difference nobody approved
    explained: int = 0  # differences a change of wabaguard explains
    graph_errors: int = 0
    backed_off: int = 0
    deferred: int = 0  # due, but the run's calls or time ran out: read next run, turn kept
    config_errors: int = 0
    paused: int = 0
    calls: int = 0


def backoff(attempts: int) -> timedelta:
    return clock.retry_delay(BACKOFF_S[min(max(attempts, 1), len(BACKOFF_S)) - 1])


def current_pause() -> WatchPause | None:
    try:
        return WatchPause.get(*WatchPause.key(), consistent_read=True)
    except WatchPause.DoesNotExist:
        return None


def _pause(detail: str, now: datetime) -> None:
    until = now + clock.retry_delay(int(PAUSE.total_seconds()))
    WatchPause(*WatchPause.key(), until=iso(until), detail=detail[:500], since=iso(now)).save()


def _unpause(pause: WatchPause) -> None:
    """A read went through after a pause: the token works again, the pause is lifted."""
    try:
        pause.delete(condition=WatchPause.until == pause.until)
    except DeleteError as exc:
        if not condition_failed(exc):  # paused again meanwhile: that pause stands
            raise


def run(
    graph: GraphFactory,
    now: datetime | None = None,
    budget_s: float = 50.0,
    max_calls: int | None = None,
    whole_period: bool = False,
) -> Summary:
    """Read every WABA whose turn has come (``whole_period``: every WABA not backing off, as the
    local stack's tick does — there the whole period is one tick)."""
    now = now or clock.utcnow()
    out = Summary()
    pause = current_pause()
    if pause is not None and pause.until > iso(now):
        out.paused = 1
        return out
    horizon = now + schedule.period() if whole_period else now
    budget = reads.Budget(max_calls or settings().waba_watch_max_calls)
    started = clock.now()
    client: Graph | None = None
    for snap in due.due(WabaSnapshot, schedule.DUE, horizon, limit=500):
        if clock.now() - started > budget_s or budget.left <= 0:
            out.deferred += 1
            continue
        if whole_period and int(snap.attempts or 0) > 0 and (snap.due_at or "") > schedule.stamp(now):
            continue  # backing off: its retry time has not come, whatever the tick says
        claimed = due.claim(WabaSnapshot, snap.pk, snap.sk, horizon, LEASE, WabaSnapshot.due == schedule.DUE)
        if claimed is None:
            continue  # another run reads it
        if client is None:
            try:
                client = graph()
            except Exception as exc:  # noqa: BLE001 - no token yet: the provider must store it
                _release(claimed, None)
                _pause(f"the Graph API client is not configured ({exc})", now)
                out.config_errors += 1
                break
        outcome = watch_one(claimed, client, budget, now)
        out.add(outcome)
        if outcome.config_errors:
            break
    if pause is not None and out.watched:
        _unpause(pause)
    out.calls = budget.made
    return out


def watch_one(snap: WabaSnapshot, graph: Graph, budget: reads.Budget, now: datetime) -> Summary:
    """Read one claimed WABA and settle what the read found."""
    out = Summary()
    account = account_or_none(snap.account_id)
    if account is None or account.waba_id != snap.waba_id:  # gone, or moved to another WABA: not ours
        _stop(snap)
        return out
    try:
        state, _ = reads.read_state(graph, budget, snap.waba_id, _business_of(account))
    except reads.OutOfCalls:
        _release(snap, None)
        out.deferred = 1
        return out
    except reads.ReadFailed as failed:
        return _failed(snap, failed, now)
    out.watched = 1
    if snap.state is None:
        _replace(snap, state, now, [])
        out.baselines = 1
        return out
    if compare.digest(state) == snap.digest:
        _replace(snap, state, now, [])
        return out
    diffs = compare.differences(snap.state, state)
    applied = applied_since(account, activity.parse_at(snap.taken_at or snap.enrolled_at) - EXPLAIN_MARGIN)
    unexplained = [d for d in diffs if compare.explained_by(d, applied, state) is None]
    out.explained = len(diffs) - len(unexplained)
    if not unexplained:
        _replace(snap, state, now, [])
        return out
    flag = _raise(account, snap, unexplained, now)
    if _replace(snap, state, now, unexplained, flag_id=flag, account=account):
        out.drifts = 1
    return out


def _business_of(account: Account) -> str | None:
    """The business portfolio ``assigned_users`` is asked about: the managing Partner's at Meta."""
    partner = account_or_none(account.partner_id)
    return partner.meta_business_id if partner else None


# ------------------------------------------------------------------ after a read
def _next(snap: WabaSnapshot, now: datetime) -> datetime:
    """The WABA's next turn: after now, at its own phase (a late or retried read keeps it)."""
    return schedule.next_turn(snap.waba_id, now)


def _replace(
    snap: WabaSnapshot,
    state: dict[str, Any],
    now: datetime,
    unexplained: list[Difference],
    flag_id: str | None = None,
    account: Account | None = None,
) -> bool:
    """The new read becomes the snapshot — only if it still replaces the read it was compared
    with — with the drift it found, in one transaction. False when another run got there first."""
    turn = _next(snap, now)
    actions: list[Any] = [
        WabaSnapshot.state.set(state),
        WabaSnapshot.digest.set(compare.digest(state)),
        WabaSnapshot.taken_at.set(iso(now)),
        WabaSnapshot.slot_at.set(schedule.stamp(turn)),
        WabaSnapshot.due_at.set(schedule.stamp(turn)),
        WabaSnapshot.attempts.set(0),
        WabaSnapshot.reads.add(1),
        WabaSnapshot.last_error.remove(),
    ]
    same_read = WabaSnapshot.taken_at == snap.taken_at if snap.taken_at else WabaSnapshot.taken_at.does_not_exist()
    try:
        with transaction() as tx:
            tx.update(snap, actions=actions, condition=same_read & (WabaSnapshot.due == schedule.DUE))
            if unexplained:
                drift_id = new_id("drf")
                tx.save(
                    WabaDrift(
                        account_pk(snap.account_id),
                        drift_sk(activity.precise(now), drift_id),
                        drift_id=drift_id,
                        account_id=snap.account_id,
                        waba_id=snap.waba_id,
                        severity=compare.severity_of(unexplained),
                        differences=[d.as_dict() for d in unexplained],
                        flag_id=flag_id,
                        previous_at=snap.taken_at,
                        found_at=iso(now),
                        last_change=system_change("waba_drift", now, BY, drift_id),
                    ),
                    condition=WabaDrift.pk.does_not_exist(),
                )
    except TransactWriteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def _failed(snap: WabaSnapshot, failed: reads.ReadFailed, now: datetime) -> Summary:
    out = Summary(graph_errors=1)
    kind = failed.outcome.kind
    words = f"{failed.path}: {failed.outcome.detail or failed.outcome.kind}"[:500]
    if kind == "config":  # our token: every WABA would fail alike
        _release(snap, words)
        _pause(words, now)
        out.config_errors = 1
        return out
    attempts = int(snap.attempts or 1)
    if kind == "transient":  # back off this WABA only; its turn stays where it is
        when = now + backoff(attempts)
        out.backed_off = 1
    else:  # Meta refused the read itself (the WABA gone, or no longer shared): try at the next turn
        when = _next(snap, now)
    actions: list[Any] = [WabaSnapshot.due_at.set(schedule.stamp(when)), WabaSnapshot.last_error.set(words)]
    if kind != "transient":
        actions.append(WabaSnapshot.attempts.set(0))  # not backing off: it simply waits for its turn
    snap.update(actions=actions, condition=WabaSnapshot.due == schedule.DUE)
    return out


def _release(snap: WabaSnapshot, words: str | None) -> None:
    """Give a claimed WABA back, due now, the claim not counted (the read did not happen)."""
    actions: list[Any] = [WabaSnapshot.due_at.set(schedule.stamp(clock.utcnow())), WabaSnapshot.attempts.add(-1)]
    if words:
        actions.append(WabaSnapshot.last_error.set(words))
    try:
        snap.update(actions=actions, condition=WabaSnapshot.due == schedule.DUE)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def _stop(snap: WabaSnapshot) -> None:
    """No longer watched: out of ``by_due``; the last snapshot stays to explain."""
    snap.update(actions=[WabaSnapshot.due.remove(), WabaSnapshot.due_at.remove()])


# ------------------------------------------------------------------ what wabaguard did
def applied_since(account: Account, since: datetime) -> list[Applied]:
    """What wabaguard sent to Meta for this account since ``since`` (applied, or pending: an answer
    may have been lost while Meta made the change), and the Partner changes it submitted."""
    out: list[Applied] = []
    stamp_since = iso(since)
    for change in PlatformChange.query(account_pk(account.account_id), PlatformChange.sk.startswith("PLATFORM#")):
        if change.status == "failed" or (change.updated_at or change.created_at) < stamp_since:
            continue
        body = change.body or {}
        if change.action == "create_template":
            key = f"{body.get('name')}|{body.get('language')}"
            out.append(Applied("template", key, "added", what=f"the template change {change.change_id}"))
        elif change.action == "set_webhook_url":
            url = ((body.get("webhook_configuration") or {}).get("override_callback_uri")) or ""
            phone = change.path.strip("/").split("/")[0]
            out.append(
                Applied(
                    "phone_webhook",
                    phone,
                    "changed",
                    hashlib.sha256(url.encode()).hexdigest(),
                    what=f"the webhook change {change.change_id}",
                )
            )
    partner_since = iso(since - PARTNER_MATCH)
    for request in PartnerChangeRequest.query(
        account_pk(account.account_id), PartnerChangeRequest.sk.startswith("PCR#")
    ):
        if request.status != "SUBMITTED" or (request.ended_at or "") < partner_since:
            continue
        for partner_id, moved in ((request.target_partner_id, "added"), (request.current_partner_id, "removed")):
            partner = account_or_none(partner_id)
            app_id = partner.meta_app_id if partner else None
            if app_id:
                out.append(Applied("app", app_id, moved, what=f"the Partner change {request.request_id}"))
    return out


# ------------------------------------------------------------------ the flag
def explanation(diffs: list[Difference], previous_at: str | None, now: datetime) -> str:
    said = "; ".join(d.words for d in diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
    since = f" since wabaguard last read it ({clock.for_people(previous_at)})" if previous_at else ""
    return (
        f"At Meta, {said}{since}. None of it came through wabaguard: no change approved here explains it. "
        f"Found by the WABA watch {clock.for_people(now)}. If nobody in the business did this at Meta, someone "
        "else controls the WhatsApp Business Account there: remove what you do not recognise in Meta Business "
        "Settings and contact your provider."
    )


def _raise(account: Account, snap: WabaSnapshot, diffs: list[Difference], now: datetime) -> str | None:
    evidence = [
        {"kind": "waba_drift", "at": iso(now), "action": f"{d.area} {d.change}", "detail": f"{d.before} → {d.after}"}
        for d in diffs
    ]
    flag = flags.raise_flag(
        account,
        RULE,
        compare.severity_of(diffs),
        explanation(diffs, snap.taken_at, now),
        evidence,
        subject={},
        now=now,
        raised_by=BY,
        quiet=True,  # the drift's own notice tells it
    )
    return flag.flag_id if flag is not None else None
