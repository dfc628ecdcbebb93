"""Starting and ending reviews when several flags move at once (two scans, a scan and a report,
two ops resolving side by side): the account is under review exactly while a high flag is open,
the review counter on the dashboard moves once per review, and a flag is never dropped because
DynamoDB cancelled a transaction for a conflict."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError
from pynamodb.transactions import TransactWrite
from wabaguard.models import Account, Flag, account_pk
from wabaguard.people.access import load_account
from wabaguard.risk import flags

from devstack.server import World


def _state(account_id: str) -> tuple[bool, int, int]:
    account = Account.get(*Account.key(account_id), consistent_read=True)
    return bool(account.under_review), int(account.open_high_flags or 0), flags.accounts_under_review()


def _open_flags(account_id: str) -> list[Flag]:
    return [f for f in Flag.query(account_pk(account_id), Flag.sk.startswith("FLAG#")) if f.status == "open"]


def test_two_high_flags_from_one_stale_read_start_one_review(world: World, acme: dict[str, Any]) -> None:
    account_id = acme["account_id"]
    stale = load_account(account_id)  # both raisers read the account before either wrote
    first = flags.raise_flag(stale, "rule_a", "high", "a", [])
    second = flags.raise_flag(stale, "rule_b", "high", "b", [])
    assert first is not None and second is not None
    assert _state(account_id) == (True, 2, 1)
    assert Account.get(*Account.key(account_id)).last_change.kind == "review_started"

    flags.resolve(first.flag_id, "confirmed", None, "ops")
    assert _state(account_id) == (True, 1, 1)  # one high flag still open: still under review
    flags.resolve(second.flag_id, "confirmed", None, "ops")
    assert _state(account_id) == (False, 0, 0)
    assert Account.get(*Account.key(account_id)).last_change.kind == "review_released"


def test_every_high_flag_is_told_even_while_the_review_runs(world: World, acme: dict[str, Any], api: Any) -> None:
    account_id = acme["account_id"]
    flags.raise_flag(load_account(account_id), "rule_a", "high", "first thing", [])
    flags.raise_flag(load_account(account_id), "rule_b", "high", "second thing", [])
    world.pump.pump()
    subjects = sorted({m["subject"] for m in api.outbox() if "first thing" in m["text"] or "second thing" in m["text"]})
    assert len(subjects) == 2  # "under review" for the first, "security flag" for the second
    assert any("review" in s.lower() for s in subjects) and any("flag" in s.lower() for s in subjects)
    users = {u["email"] for u in acme["users"]}
    for subject in subjects:  # each told to every user of the account (and the Partner's admins), once
        to = [m["to"] for m in api.outbox() if m["subject"] == subject]
        assert users <= set(to) and len(to) == len(set(to)), subject


def test_a_medium_flag_neither_starts_nor_ends_a_review(world: World, acme: dict[str, Any]) -> None:
    account_id = acme["account_id"]
    medium = flags.raise_flag(load_account(account_id), "rule_m", "medium", "m", [])
    assert medium is not None and _state(account_id) == (False, 0, 0)
    high = flags.raise_flag(load_account(account_id), "rule_h", "high", "h", [])
    assert high is not None
    flags.resolve(medium.flag_id, "confirmed", None, "ops")
    assert _state(account_id) == (True, 1, 1)


def test_the_same_rule_is_not_raised_twice_even_from_a_stale_read(world: World, acme: dict[str, Any]) -> None:
    stale = load_account(acme["account_id"])
    assert flags.raise_flag(stale, "rule_a", "high", "a", []) is not None
    assert flags.raise_flag(stale, "rule_a", "high", "again", []) is None
    assert _state(acme["account_id"]) == (True, 1, 1)
    assert len(_open_flags(acme["account_id"])) == 1


def test_two_ops_resolving_the_last_two_high_flags_at_once_release_the_review_once(
    world: World, acme: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = acme["account_id"]
    raised = [flags.raise_flag(load_account(account_id), f"rule_{i}", "high", "x", []) for i in range(2)]
    barrier = threading.Barrier(2, timeout=10)
    first_read = threading.local()
    reread = flags.load_account

    def both_read_before_either_writes(account_id: str, consistent: bool = False) -> Account:
        account = reread(account_id, consistent)
        if not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait()
        return account

    monkeypatch.setattr(flags, "load_account", both_read_before_either_writes)
    errors: list[BaseException] = []

    def resolve(flag: Flag | None) -> None:
        assert flag is not None
        try:
            flags.resolve(flag.flag_id, "confirmed", None, "ops")
        except BaseException as exc:  # collected for the main thread to report
            errors.append(exc)

    threads = [threading.Thread(target=resolve, args=(f,)) for f in raised]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert _state(account_id) == (False, 0, 0)
    assert _open_flags(account_id) == []


class _ConflictOnce(TransactWrite):
    """A transaction that DynamoDB cancels the first time because another one held an item."""

    failures = 1

    def _commit(self) -> Any:
        if _ConflictOnce.failures:
            _ConflictOnce.failures -= 1
            raise TransactWriteError(
                "Failed to write transaction items",
                VerboseClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                    "TransactWriteItems",
                    cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
                ),
            )
        return super()._commit()


def test_a_transaction_conflict_is_retried_not_taken_for_an_open_flag(
    world: World, acme: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = flags.transaction

    def conflicting() -> TransactWrite:
        tx = original()
        return _ConflictOnce(connection=tx._connection)

    monkeypatch.setattr(_ConflictOnce, "failures", 1)
    monkeypatch.setattr(flags, "transaction", conflicting)
    flag = flags.raise_flag(load_account(acme["account_id"]), "rule_a", "high", "a", [])
    assert flag is not None and _ConflictOnce.failures == 0
    assert _state(acme["account_id"]) == (True, 1, 1)

    monkeypatch.setattr(_ConflictOnce, "failures", 1)
    assert flags.resolve(flag.flag_id, "confirmed", None, "ops")["status"] == "resolved"
    assert _ConflictOnce.failures == 0 and _state(acme["account_id"]) == (False, 0, 0)
