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


@pytest.fixture
def moving(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: state["now"].timestamp())
    return state


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
    from wabaguard.access import load_account

    assert not load_account(acme["account_id"]).under_review
    from wabaguard.models import Flag, account_pk

    stored = [f for f in Flag.query(account_pk(acme["account_id"]), Flag.sk.startswith("FLAG#"))]
    assert stored and {f.status for f in stored} == {"audit"}, "kept for ops, not notified, no review"
