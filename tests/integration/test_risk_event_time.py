"""§Risk event time (issue 12): a record is judged against what happened before it, however the
records were batched on arrival — history and an attack imported together are judged as if they
had arrived one after the other."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from wabaguard import clock

from devstack.server import World
from tests.integration.test_risk import T0, history, ingest, scan


def _logins(account: str, days: int) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account,
            "kind": "login",
            "user_id": "usr_owner",
            "at": (T0 - timedelta(days=d, hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ip": "198.51.100.10",
            "country": "DE",
        }
        for d in range(days, 0, -1)
    ]


def _hijack(account: str, minutes_ago: int = 20) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account,
            "kind": "key_action",
            "user_id": "usr_owner",
            "action": "set_webhook_url",
            "at": (T0 - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ip": "203.0.113.66",
            "country": "RU",
        }
    ]


def _spam(account: str, pn: str) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account,
            "kind": "messages_sent",
            "at": (T0 - timedelta(hours=1)).strftime("%Y-%m-%dT%H:00:00Z"),
            "phone_number_id": pn,
            "count": 900,
            "countries": {"NG": 500, "ID": 300, "DE": 100},
        }
    ]


def _rules(flags: list[dict[str, Any]], account: str) -> set[str]:
    return {f["rule"] for f in flags if f["account_id"] == account and not f["historical"]}


def test_history_and_an_attack_imported_in_one_batch_are_judged_in_event_order(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    batch = [
        *history(acme["account_id"], pn, days=7),
        *_logins(acme["account_id"], 7),
        *_hijack(acme["account_id"]),
        *_spam(acme["account_id"], pn),
    ]
    ingest(batch)
    flags = scan(moving)["flags"]
    assert {"key_action_new_location", "new_destination_countries"} <= _rules(flags, acme["account_id"])


def test_the_same_records_in_two_steps_give_the_same_verdicts(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    ingest([*history(acme["account_id"], pn, days=7), *_logins(acme["account_id"], 7)])
    first = scan(moving)["flags"]
    assert _rules(first, acme["account_id"]) == set()
    ingest([*_hijack(acme["account_id"]), *_spam(acme["account_id"], pn)])
    second = scan(moving)["flags"]
    assert {"key_action_new_location", "new_destination_countries"} <= _rules(second, acme["account_id"])


def test_an_old_anomaly_in_imported_history_is_recorded_as_historical_not_a_live_alarm(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    ingest([*_logins(acme["account_id"], 10), *_hijack(acme["account_id"], minutes_ago=4 * 24 * 60)])
    flags = [f for f in scan(moving)["flags"] if f["account_id"] == acme["account_id"]]
    assert "key_action_new_location" in {f["rule"] for f in flags}
    assert all(f["historical"] and f["explanation"].startswith("historical (happened by ") for f in flags)
    from wabaguard.people.access import load_account

    assert not load_account(acme["account_id"]).under_review
    from wabaguard.models import Flag, account_pk

    stored = [f for f in Flag.query(account_pk(acme["account_id"]), Flag.sk.startswith("FLAG#"))]
    assert stored and {f.status for f in stored} == {"audit"}, "kept for ops, not notified, no review"


# ---------------------------------------------------------------- bounded runs
def _backlog(accounts: list[str], per_account: int) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account,
            "kind": "login",
            "user_id": f"usr_{i % 3}",
            "at": (T0 - timedelta(days=2, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ip": "198.51.100.10",
            "country": "DE",
        }
        for account in accounts
        for i in range(per_account)
    ]


def test_a_backlog_larger_than_a_run_drains_over_several_runs_counting_each_record_once(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.models import RiskState
    from wabaguard.risk import run_scan

    accounts = _same_shard("acc_backlog", 5)
    ingest(_backlog(accounts, 50))  # 250 records of one shard, arrived now
    runs = []
    for _ in range(10):
        moving["now"] += timedelta(seconds=30)
        out = run_scan(shard=0, max_records=60)
        runs.append(out)
        if not out["behind"]:
            break
    assert [r["records_scanned"] for r in runs[:4]] == [60, 60, 60, 60], "each run stops at its budget"
    assert runs[0]["lag_s"] > 0 and runs[-1]["behind"] is False and runs[-1]["lag_s"] == 0
    for account in accounts:
        assert RiskState.get(*RiskState.key(account)).state["records"] == 50, "exactly once"
    moving["now"] += timedelta(minutes=5)
    run_scan(shard=0, max_records=60)
    for account in accounts:
        assert RiskState.get(*RiskState.key(account)).state["records"] == 50, "the overlap is not counted again"


def test_accounts_a_run_has_no_time_for_wait_for_the_next_run(
    world: World, demo: dict[str, Any], moving: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import wabaguard.risk.runner as risk
    from wabaguard.models import RiskState

    accounts = _same_shard("acc_slow", 3)
    ingest(_backlog(accounts, 10))
    fake = {"t": 0.0}
    real = risk.scan_account

    def slow(*args: Any, **kwargs: Any) -> Any:
        fake["t"] += 40  # each account takes 40 s of the run's 60
        return real(*args, **kwargs)

    monkeypatch.setattr(risk.time, "monotonic", lambda: fake["t"])
    monkeypatch.setattr(risk, "scan_account", slow)
    first = risk.run_scan(shard=0, max_seconds=60)
    assert first["behind"] is True
    done = [a for a in accounts if _counted(a)]
    assert 0 < len(done) < 3
    monkeypatch.undo()
    monkeypatch.setattr(clock, "now", lambda: (moving["now"] + timedelta(hours=2)).timestamp())
    second = risk.run_scan(shard=0)
    assert second["behind"] is False
    for account in accounts:
        assert RiskState.get(*RiskState.key(account)).state["records"] == 10


def _counted(account: str) -> bool:
    from wabaguard.models import RiskState

    try:
        return bool(RiskState.get(*RiskState.key(account)).state.get("records"))
    except RiskState.DoesNotExist:
        return False


def _same_shard(prefix: str, n: int, shard: int = 0) -> list[str]:
    from wabaguard.activity import shard_of

    names = (f"{prefix}_{i}" for i in range(10_000))
    return [name for name in names if shard_of(name) == shard][:n]


def test_shards_that_are_behind_are_fanned_out_one_worker_each(
    world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    """The schedule scans the shards that keep up and hands the ones behind to a worker each."""
    from wabaguard.activity import SHARDS
    from wabaguard.models import RiskState
    from wabaguard.risk import run_scan

    behind = [_same_shard(f"acc_shard{s}", 3, s) for s in range(SHARDS)]
    ingest(_backlog(behind[1] + behind[2], 40))  # shards 1 and 2 get a backlog
    first = run_scan(max_records=50)  # no fan-out yet: each shard does its budget here
    assert first["behind"] is True
    handed: list[int] = []
    moving["now"] += timedelta(minutes=5)
    second = run_scan(max_records=50, fan_out=handed.append)
    assert sorted(handed) == [1, 2] and second["fanned_out"] == [1, 2]
    for shard in handed:  # the workers, as Lambda would run them in parallel
        while run_scan(shard=shard, max_records=50)["behind"]:
            pass
    for account in behind[1] + behind[2]:
        assert RiskState.get(*RiskState.key(account)).state["records"] == 40


def test_the_scheduled_function_fans_out_through_lambda_async_invokes(
    world: World, demo: dict[str, Any], moving: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template's RiskScanFunction invokes itself per shard that is behind (emulated locally,
    held to its policy's lambda:InvokeFunction)."""
    from wabaguard.models import RiskState

    from devstack.lambdas import wait_for_invocations

    accounts = _same_shard("acc_fan", 2, 3)
    ingest(_backlog(accounts, 30))
    monkeypatch.setenv("RISK_SCAN_MAX_RECORDS", "20")
    world.run_schedule("RiskScanFunction")  # shard 3 stops at its budget: behind
    moving["now"] += timedelta(minutes=5)
    out = world.run_schedule("RiskScanFunction")
    assert out["fanned_out"] == [3]
    wait_for_invocations()
    done = sum(RiskState.get(*RiskState.key(a)).state["records"] for a in accounts)
    assert done == 60, "the worker ran, and handed on to the next while its shard was behind"
