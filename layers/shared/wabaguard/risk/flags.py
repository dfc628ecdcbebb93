"""Flags: raised by the risk scan (or a user's "this wasn't me"), listed, resolved by ops.

A flag for the same account and rule is not raised again while one is open (an ``OPEN#<rule>``
marker written in the same transaction). A ``high`` flag puts the account under review in that
transaction too; resolving the last open high flag releases it, and a false positive is fed back
into the account's risk state. The account keeps its count of open high flags, and every writer
conditions on the count it read, so flags raised or resolved side by side stay consistent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.update import Action

from wabaguard import clock
from wabaguard.errors import Conflict, InvalidRequest, NotFound
from wabaguard.models import (
    Account,
    ChangeRecord,
    Flag,
    Link,
    OpenFlag,
    ReviewCounter,
    RiskState,
    account_pk,
    condition_failed,
    flag_pk,
    flag_sk,
    flags_listing,
    iso,
    open_flag_sk,
    system_change,
    transaction,
    transaction_conflict,
)
from wabaguard.people.access import load_account, require_account, valid_id
from wabaguard.people.principal import Principal
from wabaguard.security import new_id

SYSTEM = "wabaguard monitoring"
WRITE_ATTEMPTS = 5  # optimistic writes: re-read and retry when another writer got there first


def _system_change(kind: str, now: datetime, by: str = SYSTEM, ref: str | None = None) -> ChangeRecord:
    return system_change(kind, now, by, ref)


def raise_flag(
    account: Account,
    rule: str,
    severity: str,
    explanation: str,
    evidence: list[dict[str, Any]],
    subject: dict[str, Any] | None = None,
    audit_only: bool = False,
    now: datetime | None = None,
    raised_by: str = SYSTEM,
    quiet: bool = False,
) -> Flag | None:
    """Raise a flag unless one is open for this account and rule; None when it was not raised.
    ``quiet``: the finding is told by its own notice (a WABA drift), so the flag adds none — a
    review it starts is still told.

    A high flag changes the account's count of open high flags with a condition on the count it
    read, so two flags raised at once (two scans, a scan and a report) cannot both believe they
    started the review: the loser re-reads the account and tries again."""
    now = now or clock.utcnow()
    flag_id = new_id("flg")
    review = severity == "high" and not audit_only
    flag = Flag(
        account_pk(account.account_id),
        flag_sk(flag_id),
        flag_id=flag_id,
        account_id=account.account_id,
        rule=rule,
        severity=severity,
        explanation=explanation,
        evidence=evidence[:20],
        subject=subject or {},
        status="audit" if audit_only else "open",
        audit_only=audit_only,
        created_at=iso(now),
        listing=flags_listing("audit" if audit_only else "open"),
        listed_at=f"{iso(now)}#{flag_id}",
    )
    if not audit_only and not review and not quiet:
        flag.last_change = _system_change("account_flagged", now, raised_by)  # the flag itself is the notice
    for attempt in range(WRITE_ATTEMPTS):
        if review:  # the first high flag's notice is "review started"; a later one is its own notice
            told = _open_high(account) and not quiet
            flag.last_change = _system_change("account_flagged", now, raised_by) if told else None
        try:
            with transaction() as tx:
                if not audit_only:
                    tx.save(  # the "one open flag per rule" marker
                        OpenFlag(account_pk(account.account_id), open_flag_sk(rule), flag_id=flag_id),
                        condition=OpenFlag.pk.does_not_exist(),
                    )
                tx.save(flag, condition=Flag.pk.does_not_exist())
                tx.save(Link(flag_pk(flag_id), "META", target_id=account.account_id))
                if review:
                    _start_or_extend_review(tx, account, flag, now, raised_by)
            return flag
        except TransactWriteError as exc:
            if not (condition_failed(exc) or transaction_conflict(exc)):
                raise
            if not audit_only and _open_flag_exists(account.account_id, rule):
                return None  # a flag for this rule is open already
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            account = load_account(account.account_id, consistent=True)  # the account changed under us: count again
    raise AssertionError("unreachable")


def _open_high(account: Account) -> int:
    return int(account.open_high_flags or 0)


def _counted_as(account: Account) -> Any:
    """The condition that the account still holds the count of open high flags we read."""
    seen = _open_high(account)
    return (
        (Account.open_high_flags == seen)
        if seen
        else (Account.open_high_flags.does_not_exist() | (Account.open_high_flags == 0))
    )


def _start_or_extend_review(tx: Any, account: Account, flag: Flag, now: datetime, raised_by: str) -> None:
    actions: list[Action] = [Account.open_high_flags.add(1)]
    if _open_high(account) == 0:  # this flag starts the review
        tx.update(ReviewCounter(*ReviewCounter.key()), actions=[ReviewCounter.under_review.add(1)])
        actions += [
            Account.under_review.set(True),
            Account.review_reason.set(f"{flag.rule} ({flag.severity}): {flag.explanation}"[:900]),
            Account.last_change.set(_system_change("review_started", now, raised_by, ref=flag.flag_id)),
        ]
    tx.update(account, actions=actions, condition=_counted_as(account))


def _open_flag_exists(account_id: str, rule: str) -> bool:
    try:
        OpenFlag.get(account_pk(account_id), open_flag_sk(rule), consistent_read=True)
        return True
    except OpenFlag.DoesNotExist:
        return False


def flag_view(flag: Flag) -> dict[str, Any]:
    return {
        "flag_id": flag.flag_id,
        "account_id": flag.account_id,
        "rule": flag.rule,
        "severity": flag.severity,
        "explanation": flag.explanation,
        "evidence": flag.evidence,
        "status": flag.status,
        "created_at": flag.created_at,
        "resolved_at": flag.resolved_at,
        "verdict": flag.verdict,
    }


def list_flags(principal: Principal, account_id: str) -> dict[str, Any]:
    require_account(principal, account_id, user_only=True)
    flags = [f for f in Flag.query(account_pk(account_id), Flag.sk.startswith("FLAG#")) if not f.audit_only]
    flags.sort(key=lambda f: f.created_at, reverse=True)
    account = load_account(account_id)
    return {
        "account_id": account_id,
        "under_review": bool(account.under_review),
        "flags": [flag_view(f) for f in flags],
    }


def resolve(
    flag_id: str, verdict: str, note: str | None, resolved_by: str, now: datetime | None = None
) -> dict[str, Any]:
    """Close a flag with ops' verdict; release the review when the last open high flag closes;
    learn from a false positive. The release is decided on the account's count of open high flags,
    under a condition on the count read, so two flags resolved at once release the review once."""
    now = now or clock.utcnow()
    if verdict not in ("confirmed", "false_positive"):
        raise InvalidRequest("verdict", "must be confirmed or false_positive")
    if not valid_id(flag_id):
        raise NotFound("no such flag")
    try:
        link = Link.get(flag_pk(flag_id), "META")
        flag = Flag.get(account_pk(link.target_id), flag_sk(flag_id), consistent_read=True)
    except (Link.DoesNotExist, Flag.DoesNotExist):
        raise NotFound(f"flag {flag_id} does not exist") from None
    if flag.status != "open":
        raise Conflict(f"flag {flag_id} is {flag.status}, not open")
    account = load_account(flag.account_id, consistent=True)
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with transaction() as tx:
                tx.update(
                    flag,
                    actions=[
                        Flag.status.set("resolved"),
                        Flag.listing.set(flags_listing("resolved")),
                        Flag.verdict.set(verdict),
                        Flag.note.set(note or ""),
                        Flag.resolved_at.set(iso(now)),
                        Flag.resolved_by.set(resolved_by),
                    ],
                    condition=Flag.status == "open",
                )
                tx.delete(OpenFlag(account_pk(flag.account_id), open_flag_sk(flag.rule)))
                if flag.severity == "high":
                    _end_or_shorten_review(tx, account, flag, now)
            break
        except TransactWriteError as exc:
            if not (condition_failed(exc) or transaction_conflict(exc)):
                raise
            flag.refresh(consistent_read=True)
            if flag.status != "open":
                raise Conflict(f"flag {flag_id} was resolved meanwhile") from None
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            account = load_account(flag.account_id, consistent=True)  # another flag changed the count: decide again
    if verdict == "false_positive":
        learn_false_positive(flag.account_id, flag.subject or {})
    flag.refresh(consistent_read=True)
    return flag_view(flag)


def _end_or_shorten_review(tx: Any, account: Account, flag: Flag, now: datetime) -> None:
    actions: list[Action]
    if _open_high(account) > 1:
        actions = [Account.open_high_flags.add(-1)]
    else:  # the last open high flag: the review ends
        tx.update(ReviewCounter(*ReviewCounter.key()), actions=[ReviewCounter.under_review.add(-1)])
        actions = [
            Account.open_high_flags.set(0),
            Account.under_review.set(False),
            Account.review_reason.remove(),
            Account.last_change.set(_system_change("review_released", now, "wabaguard ops", ref=flag.flag_id)),
        ]
    tx.update(account, actions=actions, condition=_counted_as(account))


def learn_false_positive(account_id: str, subject: dict[str, Any]) -> None:
    """Widen what counts as normal for this account, so the same thing does not flag again."""
    for _ in range(5):
        try:
            state = RiskState.get(*RiskState.key(account_id), consistent_read=True)
        except RiskState.DoesNotExist:
            return
        data = dict(state.state or {})
        allow = data.setdefault("allow", {"ips": [], "countries": []})
        stamp = iso(clock.utcnow())
        for ip in subject.get("ips", []):
            data.setdefault("ips", {})[ip] = stamp
            allow.setdefault("ips", []).append(ip)
        for cc in subject.get("countries", []):
            data.setdefault("countries", {}).setdefault(cc, stamp)
            data.setdefault("access_countries", {}).setdefault(cc, stamp)
            allow.setdefault("countries", []).append(cc)
        if subject.get("phone_number_id"):
            tol = data.setdefault("tolerance", {})
            tol[subject["phone_number_id"]] = float(tol.get(subject["phone_number_id"], 1.0)) * 2
        state.state = data
        try:
            state.save()
            return
        except PutError as exc:
            if not condition_failed(exc):
                raise


def accounts_under_review() -> int:
    """The gauge ops watch on the dashboard."""
    try:
        return int(ReviewCounter.get(*ReviewCounter.key()).under_review)
    except ReviewCounter.DoesNotExist:
        return 0
