"""The scheduled scan against moto: only new records, bounded work, no duplicates, flags, review."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from wabaguard import clock

from devstack.server import World
from tests.integration.conftest import (
    T0,
    Api,
)


def ingest(records: list[dict[str, Any]]) -> None:
    from wabaguard.ingest import ingest as do

    for i in range(0, len(records), 1000):
        do(records[i : i + 1000])


def history(
    account: str, pn: str, days: int, per_hour: int = 400, countries: dict[str, int] | None = None, start: datetime = T0
) -> list[dict[str, Any]]:
    """Hourly sends during business hours for ``days`` days before ``start``."""
    out = []
    for d in range(days, 0, -1):
        for h in range(8, 18):
            at = (start - timedelta(days=d)).replace(hour=h)
            out.append(
                {
                    "account_id": account,
                    "kind": "messages_sent",
                    "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "phone_number_id": pn,
                    "count": per_hour,
                    "countries": countries or {"DE": per_hour},
                }
            )
    return out


def scan(moving: dict[str, datetime], minutes: int = 5) -> dict[str, Any]:
    from wabaguard.risk import run_scan

    moving["now"] += timedelta(minutes=minutes)
    return run_scan()


def spike(account: str, pn: str, at: datetime, count: int = 6000) -> list[dict[str, Any]]:
    return [
        {
            "account_id": account,
            "kind": "messages_sent",
            "at": at.strftime("%Y-%m-%dT%H:00:00Z"),
            "phone_number_id": pn,
            "count": count,
            "countries": {"NG": count // 2, "ID": count // 4, "DE": count // 4},
        }
    ]


def test_volume_spike_is_flagged_once_with_its_baseline_and_puts_the_account_under_review(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, datetime]
) -> None:
    acme = demo["accounts"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    ingest(history(acme["account_id"], pn, days=14))
    assert scan(moving)["flags"] == []
    moving["now"] = T0 + timedelta(days=0, minutes=30)
    ingest(spike(acme["account_id"], pn, T0))
    result = scan(moving)
    assert sorted(f["rule"] for f in result["flags"]) == ["new_destination_countries", "volume_spike"]
    flag = next(f for f in result["flags"] if f["rule"] == "volume_spike")
    assert flag["severity"] == "high" and flag["account_id"] == acme["account_id"]
    assert "sent 6,000 messages in the hour from 2026-11-24 12:00 UTC" in flag["explanation"]
    assert "15× this account's usual 400 per hour (median of 136 active hours" in flag["explanation"]
    assert "75% to NG, ID which it never used" in flag["explanation"]
    assert flag["evidence"][0]["count"] == 6000
    # a second scan, even re-reading the overlap, raises nothing new
    ingest(spike(acme["account_id"], pn, T0 + timedelta(hours=1), 7000))
    assert scan(moving)["flags"] == []
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", acme["users"][0]["token"]).json()
    assert listed["under_review"] is True and len(listed["flags"]) == 2


def test_under_review_pauses_every_key_action_but_protective_ones_stay_open(
    world: World, demo: dict[str, Any], api: Api
) -> None:
    """Review item 5: every key action that adds a capability or removes a person answers 423."""
    from wabaguard.people.access import load_account
    from wabaguard.risk.flags import raise_flag

    acme = demo["accounts"][0]
    admin, member = acme["users"][0], acme["users"][1]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "before"}).json()
    ch = api.challenge(admin["token"], "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://x.example.com/"})
    code = api.last_code(admin["email"])
    raise_flag(load_account(acme["account_id"]), "test_rule", "high", "a test", [])
    acc = acme["account_id"]
    paused = (
        ("POST", f"/v1/phone-numbers/{pn}/api-keys", {}),
        ("PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://x.example.com/"}),
        ("POST", f"/v1/accounts/{acc}/partner-change-requests", {"target_partner_id": "prt_x"}),
        ("PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "paused too"}),
        ("POST", f"/v1/accounts/{acc}/templates", {"name": "t", "language": "en", "category": "UTILITY",
                                                  "components": [{"type": "BODY", "text": "hi"}]}),
        ("POST", f"/v1/accounts/{acc}/users", {"email": "new@acme.test", "role": "member"}),
        ("DELETE", f"/v1/accounts/{acc}/users/{member['user_id']}", None),
        ("POST", "/v1/me/totp", None),
    )
    for method, path, body in paused:
        resp = api.challenge(admin["token"], method, path, body)
        assert resp.status == 423 and resp.json()["error"] == "account_under_review", path
    # a code issued before the review cannot slip through either
    late = api.call(
        "PUT",
        f"/v1/phone-numbers/{pn}/webhook",
        admin["token"],
        {"url": "https://x.example.com/"},
        otp=(ch.json()["challenge_id"], code),
    )
    assert late.status == 423
    # protective: revoking a key stays open
    revoked = api.call("DELETE", f"/v1/phone-numbers/{pn}/api-keys/{key['key_id']}", admin["token"])
    assert revoked.status == 204


def test_ops_resolve_releases_review_and_false_positive_is_learned(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, datetime]
) -> None:
    acme = demo["accounts"][0]
    admin = acme["users"][0]
    base = [
        {
            "account_id": acme["account_id"],
            "kind": "login",
            "at": (T0 - timedelta(days=10)).isoformat(),
            "user_id": admin["user_id"],
            "ip": "198.51.100.1",
            "country": "DE",
        }
    ]
    ingest(base)
    scan(moving)
    moving["now"] = T0 + timedelta(days=5)
    burst = [
        {
            "account_id": acme["account_id"],
            "kind": "key_action",
            "at": (moving["now"] - timedelta(minutes=m)).isoformat(),
            "user_id": admin["user_id"],
            "action": a,
            "ip": "203.0.113.77",
            "country": "BR",
        }
        for m, a in ((6, "set_webhook_url"), (4, "create_api_key"), (2, "request_partner_change"))
    ]
    ingest(burst)
    flags = scan(moving)["flags"]
    rules = {f["rule"]: f for f in flags}
    assert rules["key_action_burst"]["severity"] == "high"
    assert "from 203.0.113.77 in BR which this account never used" in rules["key_action_burst"]["explanation"]
    assert "key_action_new_location" in rules

    flag_id = rules["key_action_burst"]["flag_id"]
    path = f"/v1/ops/flags/{flag_id}/resolve"
    assert api.call("POST", path, admin["token"], {"verdict": "false_positive"}).status == 403  # users are not ops
    assert api.call("POST", path, world.ops_token, {"verdict": "maybe"}).status == 400
    resolved = api.call("POST", path, world.ops_token, {"verdict": "false_positive", "note": "CEO travelling"})
    assert resolved.status == 200 and resolved.json()["status"] == "resolved"
    assert api.call("POST", path, world.ops_token, {"verdict": "confirmed"}).status == 409
    assert api.call("POST", "/v1/ops/flags/flg_nope/resolve", world.ops_token, {"verdict": "confirmed"}).status == 404
    # the Partner change in that burst, from a new IP and country, is its own high finding (§Partner change)
    partner = rules["partner_change_after_new_access"]
    assert partner["severity"] == "high" and "within a day of set_webhook_url" in partner["explanation"]
    body = {"verdict": "false_positive", "note": "CEO travelling"}
    assert api.call("POST", f"/v1/ops/flags/{partner['flag_id']}/resolve", world.ops_token, body).status == 200
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()
    assert listed["under_review"] is False
    # the same place again no longer looks new
    moving["now"] += timedelta(hours=2)
    ingest([{**b, "at": (moving["now"] - timedelta(minutes=1)).isoformat()} for b in burst])
    again = {f["rule"]: f for f in scan(moving)["flags"]}
    assert "key_action_burst" in again and again["key_action_burst"]["severity"] == "medium"


def test_scan_work_grows_with_new_records_not_with_history(
    world: World, demo: dict[str, Any], moving: dict[str, datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same new records, 1× and 10× history: the scan issues the same queries and reads the same items."""
    from wabaguard.risk import scan as scan_mod

    pn = demo["accounts"][0]["phone_numbers"][0]["phone_number_id"]
    work = {"queries": 0, "items": 0}
    real_query = scan_mod.ActivityRecord.by_bucket.query

    def counting(*args: Any, **kwargs: Any) -> Any:
        work["queries"] += 1
        for item in real_query(*args, **kwargs):
            work["items"] += 1
            yield item

    monkeypatch.setattr(scan_mod.ActivityRecord.by_bucket, "query", counting)

    def measure(days: int, account: str) -> tuple[int, int, int]:
        ingest(history(account, pn, days=days))
        scan(moving)
        scan(moving, minutes=30)  # history is now older than the re-read overlap
        ingest(spike(account, pn, moving["now"], 500))
        work.update(queries=0, items=0)
        result = scan(moving)
        return result["records_scanned"], work["queries"], work["items"]

    small = measure(3, "acc_small_history")
    moving["now"] += timedelta(hours=1)
    large = measure(30, "acc_large_history")
    assert small == large == (1, small[1], 1)
    assert small[1] > 0  # the index was queried, bucket by bucket (no table Scan)


def test_overlapping_runs_and_a_run_dying_halfway_count_each_record_once(
    world: World, demo: dict[str, Any], moving: dict[str, datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.models import RiskState
    from wabaguard.risk import runner as risk

    accounts = [a["account_id"] for a in demo["accounts"]]
    # a run that holds the lease makes the next one step aside ...
    from wabaguard.activity import SHARDS

    for shard in range(SHARDS):
        risk._acquire(clock.now(), "other-run", shard)
    assert risk.run_scan()["skipped"] == ["busy"] * SHARDS
    # ... until its lease expires
    moving["now"] += timedelta(seconds=risk.LEASE_SECONDS + 1)
    for account in accounts:  # happened long ago, arrives now
        ingest(
            [
                {
                    "account_id": account,
                    "kind": "login",
                    "at": (T0 - timedelta(days=20)).isoformat(),
                    "user_id": "u",
                    "ip": "198.51.100.9",
                    "country": "DE",
                }
            ]
        )
    real = risk.scan_account
    calls = {"n": 0}

    class Killed(BaseException):
        """A Lambda timeout ends the process: no ``except Exception`` in the scan sees it."""

    def dies_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed("Lambda timed out")
        return real(*args, **kwargs)

    monkeypatch.setattr(risk, "scan_account", dies_second)
    with pytest.raises(Killed):
        risk.run_scan()  # dies after the first account; the checkpoint does not move
    monkeypatch.setattr(risk, "scan_account", real)
    moving["now"] += timedelta(seconds=risk.LEASE_SECONDS + 1)
    assert risk.run_scan()["records_scanned"] == 2  # nothing skipped
    moving["now"] += timedelta(minutes=1)
    assert risk.run_scan()["records_scanned"] == 2  # the overlap is read again ...
    for account in accounts:
        assert RiskState.get(*RiskState.key(account)).state["records"] == 1  # ... but each record counted once


def test_new_accounts_and_travellers_stay_quiet(
    world: World, demo: dict[str, Any], moving: dict[str, datetime]
) -> None:
    acme = demo["accounts"][0]
    new_account = [
        {
            "account_id": "acc_brand_new",
            "kind": "key_action",
            "at": (T0 - timedelta(minutes=m)).isoformat(),
            "user_id": "u1",
            "action": a,
            "ip": "203.0.113.5",
            "country": "NG",
        }
        for m, a in ((9, "create_template"), (6, "create_api_key"), (3, "set_webhook_url"))
    ] + [
        {
            "account_id": "acc_brand_new",
            "kind": "messages_sent",
            "at": T0.isoformat(),
            "phone_number_id": "pn_n",
            "count": 3000,
            "countries": {"NG": 3000},
        }
    ]
    traveller = [
        {
            "account_id": acme["account_id"],
            "kind": "login",
            "at": (T0 - timedelta(hours=h)).isoformat(),
            "user_id": acme["users"][0]["user_id"],
            "ip": ip,
            "country": cc,
        }
        for h, ip, cc in ((30, "198.51.100.1", "DE"), (2, "203.0.113.8", "US"))
    ]
    ingest(new_account + traveller)
    flags = scan(moving)["flags"]
    assert not [f for f in flags if f["severity"] in ("medium", "high")], flags


def test_flags_are_emailed_to_users_and_partner_admins(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, datetime]
) -> None:
    acme = demo["accounts"][0]
    for i in range(6):
        ingest(
            [
                {
                    "account_id": acme["account_id"],
                    "kind": "otp_failed",
                    "user_id": acme["users"][1]["user_id"],
                    "at": (T0 - timedelta(minutes=10 - i)).isoformat(),
                    "ip": "203.0.113.66",
                }
            ]
        )
    flags = scan(moving)["flags"]
    assert [f["rule"] for f in flags] == ["otp_failures"] and flags[0]["severity"] == "medium"
    world.pump.pump()
    mails = [m for m in api.outbox() if "Security flag" in m["subject"]]
    expected = {u["email"] for u in acme["users"]} | {demo["partner"]["users"][0]["email"]}
    assert sorted(m["to"] for m in mails) == sorted(expected)
    assert "6 wrong one-time codes" in mails[0]["text"] and "report it here" not in mails[0]["text"].lower()


def test_this_wasnt_me_link_puts_the_account_under_review(world: World, demo: dict[str, Any], api: Api) -> None:
    import re

    acme = demo["accounts"][0]
    admin, member = acme["users"]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://mine.example.com/"})
    world.pump.pump()
    notice = next(m for m in api.outbox() if m["to"] == member["email"] and m["subject"].startswith("[wabaguard]"))
    link = re.search(r"(https?://\S+/v1/report/(\S+))", notice["text"])
    assert link
    path = "/v1/report/" + link.group(2)
    page = api.call("GET", path)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script" not in page.body.decode() and 'method="post"' in page.body.decode()
    text = page.body.decode()  # the page shows the change it reports, in the notice's words
    assert "The change: The webhook URL of +49 30 1234567 (Acme Shoes) was set to a new address" in text
    assert "mine.example.com" in text and admin["email"] in text  # what and who, from the notice's facts
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()
    assert listed["flags"] == []  # GET alone does nothing (mail scanners fetch links)
    done = api.call("POST", path)
    assert done.status == 200 and "under review" in done.body.decode()
    listed = api.call("GET", f"/v1/accounts/{acme['account_id']}/flags", admin["token"]).json()
    assert listed["under_review"] is True
    assert [(f["rule"], f["severity"]) for f in listed["flags"]] == [("reported_by_user", "high")]
    assert "Already reported" in api.call("POST", path).body.decode()
    assert api.call("GET", "/v1/report/wgr_forged").status == 404
    world.pump.pump()
    review = [m for m in api.outbox() if "under security review" in m["subject"]]
    assert {m["to"] for m in review} == {u["email"] for u in acme["users"]} | {demo["partner"]["users"][0]["email"]}


def test_local_risk_scan_route_shape(world: World, demo: dict[str, Any], moving: dict[str, datetime]) -> None:
    acme = demo["accounts"][0]
    ingest([{"account_id": acme["account_id"], "kind": "otp_locked", "user_id": "u1", "at": T0.isoformat()}])
    flag = scan(moving)["flags"][0]
    assert set(flag) == {"flag_id", "account_id", "rule", "severity", "explanation", "evidence", "historical"}


@pytest.mark.parametrize(
    "records,field",
    [
        ([{"account_id": "a", "kind": "nope", "at": "2026-11-24T10:00:00Z"}], "[0].kind"),
        ([{"account_id": "a", "kind": "login", "at": "yesterday", "user_id": "u", "ip": "1.2.3.4"}], "[0].at"),
        (
            [{"account_id": "a", "kind": "login", "at": "2026-11-24T10:00:00Z", "user_id": "u", "ip": "999.1.1.1"}],
            "[0].ip",
        ),
        (
            [{"account_id": "a", "kind": "messages_sent", "at": "2026-11-24T10:00:00Z", "phone_number_id": "p"}],
            "[0].count",
        ),
        (
            [
                {
                    "account_id": "a",
                    "kind": "messages_sent",
                    "at": "2026-11-24T10:00:00Z",
                    "phone_number_id": "p",
                    "count": -1,
                    "countries": {},
                }
            ],
            "[0].count",
        ),
        (
            [
                {
                    "account_id": "a",
                    "kind": "api_request",
                    "at": "2026-11-24T10:00:00Z",
                    "phone_number_id": "p",
                    "key_id": "k",
                    "count": 1,
                    "ip": "1.2.3.4",
                    "bogus": 1,
                }
            ],
            "[0].bogus",
        ),
    ],
)
def test_activity_ingestion_refuses_bad_records_whole(world: World, records: list[dict[str, Any]], field: str) -> None:
    from wabaguard.errors import InvalidRequest
    from wabaguard.ingest import ingest as do

    good = {"account_id": "a", "kind": "login", "at": "2026-11-24T10:00:00Z", "user_id": "u", "ip": "1.2.3.4"}
    with pytest.raises(InvalidRequest) as err:
        do([good, *records])
    assert err.value.extra["field"] == field.replace("[0]", "[1]")


def test_a_dormant_account_is_still_checked_for_stale_users(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, datetime]
) -> None:
    """Once an account has been scanned, the scan looks at it again when its first user would go
    stale, even if no record ever arrives for it again."""
    from wabaguard.models import ActivityRecord, RiskState, User, account_pk

    acme = demo["accounts"][0]
    admin = acme["users"][0]
    ingest(
        [
            {
                "account_id": acme["account_id"],
                "kind": "login",
                "at": T0.isoformat(),
                "user_id": admin["user_id"],
                "ip": "198.51.100.1",
                "country": "DE",
            }
        ]
    )
    assert scan(moving)["flags"] == []
    users = list(User.query(account_pk(acme["account_id"]), User.sk.startswith("USER#")))
    # each user is last seen when created (the login at T0 predates the demo's users)
    first_stale = datetime.fromisoformat(min(u.created_at for u in users)) + timedelta(days=90)
    state = RiskState.get(*RiskState.key(acme["account_id"])).state
    wake_at = datetime.fromisoformat(state["wake_at"])
    assert first_stale < wake_at <= first_stale + timedelta(minutes=2)

    # a run just before the wake-up does not take it early, and says nothing
    moving["now"] = wake_at - timedelta(minutes=6)
    assert scan(moving)["accounts_scanned"] == 0
    # the run after it: no record arrived for 90 days, and the account is still looked at
    result = scan(moving, minutes=10)
    assert result["accounts_scanned"] == 1
    (flag,) = result["flags"]
    assert flag["rule"] == "stale_users" and flag["severity"] == "low"
    assert admin["email"] in flag["explanation"]
    # the wake-up is the scan's own business: not in the account's audit log, not activity
    events = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events", admin["token"]).json()
    assert all(e.get("kind") != "scan_wake" for e in events["events"])
    assert all(r.kind != "scan_wake" for r in ActivityRecord.query(f"ACCOUNT#{acme['account_id']}"))
    # and the next look is scheduled one period on (the user is still there)
    later = datetime.fromisoformat(RiskState.get(*RiskState.key(acme["account_id"])).state["wake_at"])
    assert later == moving["now"] + timedelta(days=90)


def test_the_scan_reads_nothing_from_the_future(world: World, demo: dict[str, Any]) -> None:
    """A wake-up waits in the bucket of its hour; a run earlier in that hour must not take it."""
    from wabaguard.activity import schedule_wake, shard_of
    from wabaguard.risk.scan import new_records

    now = T0 + timedelta(minutes=30)
    account = demo["accounts"][0]["account_id"]
    wake = schedule_wake(account, now + timedelta(minutes=10))
    shard = shard_of(account)
    assert wake.record_id not in {r.record_id for r in new_records(now - timedelta(minutes=5), now, shard)}
    later = now + timedelta(minutes=11)
    assert wake.record_id in {r.record_id for r in new_records(now, later, shard)}
