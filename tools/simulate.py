"""Labelled traffic for the risk scan: benign accounts and attacks, fed into the local stack.

``make simulate`` starts a fresh local stack, sends 14 days of history for every simulated account
(daily rhythms, weekends, usual countries and IPs), scans, then sends the last hour — where the
attacks happen — scans again and prints precision and recall per scenario. Benign scenarios
include the cases that must stay quiet: campaigns at a few times the usual volume, users travelling
without key actions, brand-new accounts setting themselves up.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FAMILIES = {
    "volume_spike": {"volume_spike", "new_destination_countries"},
    "new_countries": {"new_destination_countries", "volume_spike"},
    "key_action_burst": {"key_action_burst", "key_action_new_location"},
    "new_location": {"key_action_new_location", "key_action_burst"},
    "otp_guessing": {"otp_failures"},
    "otp_replay": {"otp_failures"},
    "leaked_key": {"api_key_many_new_ips"},
    "impossible_travel": {"impossible_travel", "key_action_new_location"},
    # Meta's own signal: credentials used from abroad, then the number's PIN reset (issue 14)
    "number_takeover": {"pin_reset_after_new_location"},
}
BENIGN = (
    "steady",
    "campaign",
    "traveller",
    "new_account",
    "busy_admin",
    "night_shift",
    "key_rotation",
    "growing",
    "pin_change_at_home",  # the owner changes the two-step PIN (Meta tells us) after a key action from home
)
# Honest mistakes, made for real through the API by onboarded accounts: a body typo followed by the
# approved body, and a client retrying a request that succeeded (issue 11: they are not attacks).
HONEST = ("typo_then_right", "client_retry")
# §WABA watch, made for real at the Graph stand-in by onboarded accounts: a takeover that happens only
# at Meta (never through wabaguard), and what must stay quiet — changes made through wabaguard with a
# one-time password, and Meta's own moves (a number's quality rating).
WATCH_ATTACKS = {
    "meta_app_subscribed": {"waba_drift"},
    "meta_override_set": {"waba_drift"},
    "meta_user_added": {"waba_drift"},
}
WATCH_BENIGN = ("through_wabaguard", "metas_own_moves")
HOME = ["DE", "AT", "CH", "NL", "FR", "ES", "IT", "GB", "US", "BR", "IN", "MX"]
FAR = ["NG", "ID", "PK", "VN", "RU", "PH", "BD", "KE"]


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Account:
    scenario: str
    account_id: str
    attack: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    current: list[dict[str, Any]] = field(default_factory=list)


class World:
    def __init__(self, seed: int, now: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.now = now.replace(minute=50, second=0, microsecond=0)
        self.days = days
        self.run = f"{seed:04d}{self.rng.randrange(10**6):06d}"

    def ip(self, prefix: str = "198.51.100") -> str:
        return f"{prefix}.{self.rng.randrange(1, 254)}"

    def profile(self, scenario: str, n: int) -> dict[str, Any]:
        rng = self.rng
        home = rng.sample(HOME, 1)[0]
        countries = {home: 0.8}
        for cc in rng.sample([c for c in HOME if c != home], rng.randrange(1, 3)):
            countries[cc] = 0.2 / 2
        return {
            "account_id": f"sim_{scenario}_{n}_{self.run}",
            "pn": f"pn_sim_{scenario}_{n}_{self.run}",
            "key": f"key_sim_{scenario}_{n}_{self.run}",
            "users": [f"usr_sim_{scenario}_{n}_{i}" for i in range(rng.randrange(1, 4))],
            "volume": rng.choice([80, 150, 300, 600, 1200, 2500]),
            "countries": countries,
            "home": home,
            "ips": [self.ip() for _ in range(2)],
            "key_ips": [self.ip("192.0.2") for _ in range(2)],
            "night": scenario == "night_shift",
            "growth": 1.06 if scenario == "growing" else 1.0,  # per day: a business that keeps growing
        }

    def sends(
        self, p: dict[str, Any], at: datetime, factor: float = 1.0, countries: dict[str, float] | None = None
    ) -> dict[str, Any]:
        count = max(1, int(p["volume"] * factor * self.rng.uniform(0.7, 1.3)))
        mix = countries or p["countries"]
        split = {cc: max(1, int(count * share)) for cc, share in mix.items()}
        return {
            "account_id": p["account_id"],
            "kind": "messages_sent",
            "at": iso(at.replace(minute=0)),
            "phone_number_id": p["pn"],
            "count": sum(split.values()),
            "countries": split,
        }

    def history_of(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        hours = range(18, 24) if p["night"] else range(8, 18)
        for d in range(self.days, 0, -1):
            day = self.now - timedelta(days=d)
            weekend = day.weekday() >= 5
            for h in hours:
                if weekend and self.rng.random() < 0.6:
                    continue
                at = day.replace(hour=h, minute=0)
                trend = p["growth"] ** (self.days - d)
                out.append(self.sends(p, at, (0.5 if weekend else 1.0) * trend))
                out.append(
                    {
                        "account_id": p["account_id"],
                        "kind": "api_request",
                        "at": iso(at),
                        "phone_number_id": p["pn"],
                        "key_id": p["key"],
                        "count": self.rng.randrange(50, 500),
                        "ip": self.rng.choice(p["key_ips"]),
                        "country": p["home"],
                    }
                )
            for user in p["users"]:
                if self.rng.random() < 0.7:
                    out.append(
                        {
                            "account_id": p["account_id"],
                            "kind": "login",
                            "user_id": user,
                            "at": iso(day.replace(hour=9, minute=self.rng.randrange(60))),
                            "ip": self.rng.choice(p["ips"]),
                            "country": p["home"],
                        }
                    )
            if self.rng.random() < 0.2:
                out.append(
                    {
                        "account_id": p["account_id"],
                        "kind": "key_action",
                        "user_id": p["users"][0],
                        "action": self.rng.choice(["create_template", "update_profile"]),
                        "at": iso(day.replace(hour=11, minute=self.rng.randrange(60))),
                        "ip": p["ips"][0],
                        "country": p["home"],
                    }
                )
        return out

    # ------------------------------------------------------------------ the last hour
    def current_of(self, scenario: str, p: dict[str, Any]) -> list[dict[str, Any]]:
        rng, now = self.rng, self.now
        acc, user = p["account_id"], p["users"][0]
        hour = now.replace(minute=0)
        normal = [self.sends(p, hour)] if not p["night"] else []
        far = rng.sample(FAR, 3)
        attacker_ip = self.ip("203.0.113")
        if scenario in ("steady", "night_shift"):
            return normal
        if scenario == "growing":
            return [self.sends(p, hour, p["growth"] ** self.days)]
        if scenario == "key_rotation":  # a team replaces its API key: a new key, used from the usual places
            new_key = p["key"] + "_new"
            return [
                *normal,
                {
                    "account_id": acc,
                    "kind": "key_action",
                    "user_id": user,
                    "action": "create_api_key",
                    "at": iso(now - timedelta(minutes=30)),
                    "ip": p["ips"][0],
                    "country": p["home"],
                },
                *[
                    {
                        "account_id": acc,
                        "kind": "api_request",
                        "phone_number_id": p["pn"],
                        "key_id": new_key,
                        "at": iso(hour),
                        "count": rng.randrange(50, 500),
                        "ip": ip,
                        "country": p["home"],
                    }
                    for ip in p["key_ips"]
                ],
                {
                    "account_id": acc,
                    "kind": "key_action",
                    "action": "revoke_api_key",
                    "user_id": user,
                    "at": iso(now - timedelta(minutes=10)),
                    "ip": p["ips"][0],
                    "country": p["home"],
                },
            ]
        if scenario == "campaign":
            return [self.sends(p, hour, rng.uniform(2.5, 4.0))]
        if scenario == "traveller":
            away = rng.choice([c for c in HOME if c != p["home"]])
            return [
                *normal,
                {
                    "account_id": acc,
                    "kind": "login",
                    "user_id": user,
                    "at": iso(now - timedelta(minutes=5)),
                    "ip": self.ip("203.0.113"),
                    "country": away,
                },
            ]
        if scenario == "busy_admin":
            return [
                *normal,
                *[
                    {
                        "account_id": acc,
                        "kind": "key_action",
                        "user_id": user,
                        "action": a,
                        "at": iso(now - timedelta(minutes=m)),
                        "ip": p["ips"][0],
                        "country": p["home"],
                    }
                    for m, a in ((40, "create_template"), (25, "update_profile"))
                ],
            ]
        if scenario == "volume_spike":
            return [self.sends(p, hour, rng.uniform(15, 40), {far[0]: 0.5, far[1]: 0.3, p["home"]: 0.2})]
        if scenario == "new_countries":
            return [self.sends(p, hour, rng.uniform(1.0, 2.0), {far[0]: 0.4, far[1]: 0.3, p["home"]: 0.3})]
        if scenario == "key_action_burst":
            return [
                *normal,
                *[
                    {
                        "account_id": acc,
                        "kind": "key_action",
                        "user_id": user,
                        "action": a,
                        "at": iso(now - timedelta(minutes=m)),
                        "ip": attacker_ip,
                        "country": far[0],
                    }
                    for m, a in ((9, "set_webhook_url"), (6, "create_api_key"), (3, "request_partner_change"))
                ],
            ]
        if scenario in ("number_takeover", "pin_change_at_home"):
            abroad = scenario == "number_takeover"
            return [
                *normal,
                {
                    "account_id": acc,
                    "kind": "key_action",
                    "user_id": user,
                    "action": "set_webhook_url",
                    "at": iso(now - timedelta(minutes=50)),
                    "ip": attacker_ip if abroad else p["ips"][0],
                    "country": far[0] if abroad else p["home"],
                },
                {
                    "account_id": acc,
                    "kind": "meta_event",
                    "action": "PIN_RESET_REQUEST" if abroad else "PIN_CHANGED",
                    "at": iso(now - timedelta(minutes=5)),
                    "phone_number_id": p["pn"],
                },
            ]
        if scenario == "new_location":
            return [
                *normal,
                {
                    "account_id": acc,
                    "kind": "key_action",
                    "user_id": user,
                    "action": "set_webhook_url",
                    "at": iso(now - timedelta(minutes=4)),
                    "ip": attacker_ip,
                    "country": far[0],
                },
            ]
        if scenario == "otp_guessing":
            return [
                *normal,
                *[
                    {
                        "account_id": acc,
                        "kind": "otp_failed",
                        "user_id": user,
                        "at": iso(now - timedelta(minutes=10 - i)),
                        "ip": attacker_ip,
                    }
                    for i in range(7)
                ],
            ]
        if scenario == "otp_replay":
            return [
                *normal,
                {
                    "account_id": acc,
                    "kind": "otp_locked",
                    "user_id": user,
                    "at": iso(now - timedelta(minutes=2)),
                    "ip": attacker_ip,
                },
            ]
        if scenario == "leaked_key":
            return [
                *normal,
                *[
                    {
                        "account_id": acc,
                        "kind": "api_request",
                        "phone_number_id": p["pn"],
                        "key_id": p["key"],
                        "at": iso(hour),
                        "count": rng.randrange(5, 80),
                        "ip": self.ip("203.0.113"),
                        "country": rng.choice(FAR),
                    }
                    for _ in range(rng.randrange(8, 30))
                ],
            ]
        if scenario == "impossible_travel":
            return [
                *normal,
                {
                    "account_id": acc,
                    "kind": "login",
                    "user_id": user,
                    "at": iso(now - timedelta(minutes=45)),
                    "ip": p["ips"][0],
                    "country": p["home"],
                },
                {
                    "account_id": acc,
                    "kind": "key_action",
                    "user_id": user,
                    "action": "create_api_key",
                    "at": iso(now - timedelta(minutes=5)),
                    "ip": attacker_ip,
                    "country": rng.choice(["AU", "JP", "NZ"]),
                },
            ]
        raise ValueError(scenario)

    def new_account(self, n: int) -> Account:
        p = self.profile("new_account", n)
        acc = Account("new_account", p["account_id"], attack=False)
        start = self.now - timedelta(days=1)
        acc.current = (
            [
                {
                    "account_id": p["account_id"],
                    "kind": "key_action",
                    "user_id": p["users"][0],
                    "action": a,
                    "at": iso(self.now - timedelta(minutes=m)),
                    "ip": p["ips"][0],
                    "country": p["home"],
                }
                for m, a in (
                    (30, "create_template"),
                    (25, "update_profile"),
                    (20, "set_webhook_url"),
                    (15, "create_api_key"),
                )
            ]
            + [self.sends(p, start.replace(hour=h), 1.0) for h in (10, 11, 12)]
            + [self.sends(p, self.now, 3.0)]
        )
        return acc

    def accounts(self, per_benign: int, per_attack: int) -> list[Account]:
        out = []
        for scenario in BENIGN:
            for n in range(per_benign):
                if scenario == "new_account":
                    out.append(self.new_account(n))
                    continue
                p = self.profile(scenario, n)
                out.append(Account(scenario, p["account_id"], False, self.history_of(p), self.current_of(scenario, p)))
        for scenario in FAMILIES:
            for n in range(per_attack):
                p = self.profile(scenario, n)
                out.append(Account(scenario, p["account_id"], True, self.history_of(p), self.current_of(scenario, p)))
        return out


def _post(base: str, path: str, body: Any) -> Any:
    req = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read())


def _http(
    base: str, method: str, path: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    """One API call; returns (status, JSON body)."""
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _code_for(base: str, email: str) -> str:
    with urllib.request.urlopen(base + "/_local/outbox", timeout=60) as resp:
        mails = json.loads(resp.read())
    for mail in reversed(mails):
        if mail["to"] == email and "code is " in mail["text"]:
            return str(mail["text"].split("code is ", 1)[1][:6])
    raise RuntimeError(f"no code was mailed to {email}")


def _accept_invite(base: str, email: str, wait_s: float = 120.0) -> str:
    """The admin's own token, as they get it: the invite link from their email, its page's POST.
    The invite goes out from the stream; behind a busy scan on a loaded machine that took over 30 s
    once in CI-like runs, so the wait is generous."""
    deadline = time.monotonic() + wait_s
    link = None
    while link is None:
        with urllib.request.urlopen(base + "/_local/outbox", timeout=60) as resp:
            mails = json.loads(resp.read())
        found = [re.search(r"(/v1/invite/wgi_[A-Za-z0-9_-]+)", m["text"]) for m in mails if m["to"] == email]
        link = next((m.group(1) for m in reversed(found) if m), None)
        if link is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no invite was mailed to {email}")
            time.sleep(0.2)
    req = urllib.request.Request(base + link, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        page = resp.read().decode()
    token = re.search(r'<pre class="secret"[^>]*>(wgu_[A-Za-z0-9_-]+)</pre>', page)
    if token is None:
        raise RuntimeError(f"the invite page of {email} showed no token")
    return token.group(1)


def onboarded_accounts(
    world: World,
    base: str,
    ops_token: str,
    per: int,
    scenarios: tuple[str, ...] = HONEST,
    partner: dict[str, Any] | None = None,
) -> list[tuple[Account, dict[str, Any]]]:
    """Onboard real accounts (with the usual history) whose people act through the API; Meta (the
    Graph stand-in) holds their WABAs, with the ``partner``'s app and system user when one is given."""
    out = []
    for scenario in scenarios:
        for n in range(per):
            p = world.profile(scenario, n)
            digits = f"49{world.rng.randrange(10**9, 10**10)}"
            waba_id = str(world.rng.randrange(10**14, 10**15))
            request: dict[str, Any] = {
                "name": f"{scenario} {n}",
                "waba_id": waba_id,
                "phone_numbers": [{"display_phone_number": digits, "meta_phone_number_id": digits + "1"}],
                "admin": {"email": f"{scenario.replace('_', '-')}-{n}-{world.run}@example.com"},
            }
            if partner:
                request["partner_id"] = partner["partner_id"]
            status, made = _http(base, "POST", "/v1/ops/accounts", ops_token, request)
            if status != 201:
                raise RuntimeError(f"onboarding failed: {made}")
            _post(
                base,
                "/_local/graph/wabas",
                {
                    "waba_id": waba_id,
                    "phones": [{"id": digits + "1", "display_phone_number": f"+{digits}"}],
                    "app_id": (partner or {}).get("meta_app_id"),
                    "users": [{"id": "6" + waba_id[1:], "name": "BSP system user", "tasks": ["MANAGE"]}],
                },
            )
            p["account_id"] = made["account"]["account_id"]
            p["pn"] = made["phone_numbers"][0]["phone_number_id"]
            p["users"] = [made["admin"]["user_id"]]
            attack = scenario in WATCH_ATTACKS
            acc = Account(
                scenario, p["account_id"], attack, world.history_of(p), [world.sends(p, world.now.replace(minute=0))]
            )
            token = _accept_invite(base, made["admin"]["email"])
            out.append((acc, {**made["admin"], "token": token, "pn": p["pn"], "waba_id": waba_id,
                              "meta_phone": digits + "1"}))  # fmt: skip
    return out


def at_meta(base: str, scenario: str, admin: dict[str, Any]) -> None:
    """What happens to a watched WABA: a takeover made only at Meta, or a change that must stay quiet."""
    waba, phone = admin["waba_id"], admin["meta_phone"]
    relay = "https://relay.example.net/wa"
    changes = {
        "meta_app_subscribed": {"op": "subscribe_app", "app_id": "9" + waba[1:], "override_callback_uri": relay},
        "meta_override_set": {"op": "set_phone_webhook", "meta_phone_number_id": phone, "override_callback_uri": relay},
        "meta_user_added": {"op": "add_assigned_user", "id": "8" + waba[1:], "name": "Someone", "tasks": ["MANAGE"]},
        "metas_own_moves": {"op": "set_phone_quality", "meta_phone_number_id": phone, "quality_rating": "YELLOW"},
    }
    if scenario == "through_wabaguard":
        honest_mistake(base, "client_retry", admin)  # an approved webhook change, applied at Meta
    else:
        _post(base, "/_local/graph/state", {"waba_id": waba, **changes[scenario]})


def honest_mistake(base: str, scenario: str, admin: dict[str, Any]) -> None:
    """What an honest user or client does: a typo then the approved body, or a retry of a success."""
    path = f"/v1/phone-numbers/{admin['pn']}/webhook"
    body = {"url": "https://hooks.example.com/whatsapp"}
    status, ch = _http(
        base, "POST", "/v1/otp/challenges", admin["token"], {"method": "PUT", "path": path, "body": body}
    )
    if status != 201:
        raise RuntimeError(f"challenge refused: {ch}")
    headers = {"X-OTP-Challenge": ch["challenge_id"], "X-OTP-Code": _code_for(base, admin["email"])}
    if scenario == "typo_then_right":
        typo, _ = _http(base, "PUT", path, admin["token"], {"url": "https://hooks.example.com/whatsap"}, headers)
        assert typo == 403, typo
    done, _ = _http(base, "PUT", path, admin["token"], body, headers)
    assert done == 200, done
    if scenario == "client_retry":
        again, _ = _http(base, "PUT", path, admin["token"], body, headers)
        assert again == 200, again


def _feed(base: str, records: list[dict[str, Any]]) -> None:
    for i in range(0, len(records), 1000):
        _post(base, "/_local/activity", records[i : i + 1000])


ARRIVALS = ("incremental", "backfill", "outage", "late")


def arrivals(
    mode: str, history: list[dict[str, Any]], current: list[dict[str, Any]], now: datetime
) -> list[list[dict[str, Any]]]:
    """The batches in which records arrive, a scan after each (the same records in every mode):

    - incremental: history, then the last hour in 5-minute steps (what a live platform does);
    - backfill: everything at once (onboarding a BSP imports its accounts' history);
    - outage: the scan is down for the last 6 hours, then catches up in one go;
    - late: usage aggregates of the last 2 hours arrive 2 hours late, after the security events.
    """
    records = sorted(history + current, key=lambda r: r["at"])
    if mode == "backfill":
        return [records]
    if mode == "outage":
        cut = iso(now - timedelta(hours=6))
        return [[r for r in records if r["at"] < cut], [r for r in records if r["at"] >= cut]]
    if mode == "late":
        cut = iso(now - timedelta(hours=2))
        usage = ("messages_sent", "api_request")
        late = [r for r in records if r["at"] >= cut and r["kind"] in usage]
        on_time = [r for r in records if not (r["at"] >= cut and r["kind"] in usage)]
        return [[r for r in on_time if r["at"] < cut], [r for r in on_time if r["at"] >= cut], late]
    if mode != "incremental":
        raise ValueError(f"arrival mode {mode!r} is not one of {ARRIVALS}")
    start = iso(now - timedelta(hours=1))
    steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["at"] >= start:
            at = datetime.strptime(r["at"], "%Y-%m-%dT%H:%M:%SZ")
            steps[iso(at.replace(minute=at.minute // 5 * 5, second=0))].append(r)
    return [[r for r in records if r["at"] < start], *(steps[k] for k in sorted(steps))]


def simulate(
    base: str,
    seed: int = 7,
    per_benign: int = 6,
    per_attack: int = 4,
    days: int = 14,
    ops_token: str | None = None,
    arrival: str = "incremental",
    partner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Feed the scenarios into the stack at ``base`` as ``arrival`` says; returns per-scenario
    detection numbers. With ``ops_token``, honest-mistake accounts are onboarded and make real API
    calls too."""
    world = World(seed, datetime.now(UTC), days)
    accounts = world.accounts(per_benign, per_attack)
    honest = onboarded_accounts(world, base, ops_token, max(1, per_benign // 2)) if ops_token else []
    watched = (
        onboarded_accounts(world, base, ops_token, max(1, per_attack // 2), (*WATCH_BENIGN, *WATCH_ATTACKS), partner)
        if ops_token
        else []
    )
    accounts += [a for a, _ in honest + watched]
    history = [r for a in accounts for r in a.history]
    current = [r for a in accounts for r in a.current]
    for batch in arrivals(arrival, history, current, world.now):
        _feed(base, batch)
        _post(base, "/_local/risk-scan", None)
    for account, admin in honest:
        honest_mistake(base, account.scenario, admin)
    if watched:
        _post(base, "/_local/tick", None)  # every watched WABA's baseline
        for account, admin in watched:
            at_meta(base, account.scenario, admin)
        time.sleep(1)  # approved changes reach Meta from the stream
        _post(base, "/_local/tick", None)  # the watch reads every WABA again
    _post(base, "/_local/risk-scan", None)
    # Every flag in the store: those of the stack's own scheduled runs too (a run in the background
    # may take a batch before the simulator's scan does). Audit-only (historical) flags are not alarms.
    with urllib.request.urlopen(base + "/_local/flags", timeout=60) as resp:
        stored = json.loads(resp.read())
    flags = [{**f, "historical": f["status"] == "audit"} for f in stored]
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for flag in flags:
        by_account[flag["account_id"]].append(flag)
    report: dict[str, Any] = {}
    families = {**FAMILIES, **WATCH_ATTACKS}
    for scenario in [*BENIGN, *HONEST, *WATCH_BENIGN, *families]:
        members = [a for a in accounts if a.scenario == scenario]
        if not members:
            continue
        serious = {
            a.account_id: [
                f for f in by_account[a.account_id] if f["severity"] in ("medium", "high") and not f.get("historical")
            ]
            for a in members
        }
        if scenario in families:
            hit = [a for a in members if any(f["rule"] in families[scenario] for f in serious[a.account_id])]
            report[scenario] = {
                "kind": "attack",
                "accounts": len(members),
                "detected": len(hit),
                "recall": len(hit) / len(members),
            }
        else:
            clean = [a for a in members if not serious[a.account_id]]
            report[scenario] = {
                "kind": "benign",
                "accounts": len(members),
                "clean": len(clean),
                "specificity": len(clean) / len(members),
                "false_flags": sorted({f["rule"] for a in members for f in serious[a.account_id]}),
            }
    attacks = [a for a in accounts if a.attack]
    benign = [a for a in accounts if not a.attack]
    serious_accounts = {
        a
        for a, fs in by_account.items()
        if any(f["severity"] in ("medium", "high") and not f.get("historical") for f in fs)
    }
    tp = len([a for a in attacks if a.account_id in serious_accounts])
    fp = len([a for a in benign if a.account_id in serious_accounts])
    report["_total"] = {
        "recall": tp / len(attacks),
        "precision": tp / max(1, tp + fp),
        "benign_clean": (len(benign) - fp) / len(benign),
        "records": sum(len(a.history) + len(a.current) for a in accounts),
    }
    return report


def table(report: dict[str, Any]) -> str:
    lines = ["| scenario | kind | accounts | result |", "| --- | --- | --- | --- |"]
    for name, row in report.items():
        if name == "_total":
            continue
        if row["kind"] == "attack":
            result = f"recall {row['recall']:.0%} ({row['detected']}/{row['accounts']})"
        else:
            result = f"no medium/high flag on {row['specificity']:.0%}" + (
                f" (flagged by {', '.join(row['false_flags'])})" if row["false_flags"] else ""
            )
        lines.append(f"| {name} | {row['kind']} | {row['accounts']} | {result} |")
    t = report["_total"]
    lines.append(
        f"\nOverall: recall {t['recall']:.1%}, precision {t['precision']:.1%}, "
        f"benign accounts without a medium/high flag {t['benign_clean']:.1%} ({t['records']:,} records)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a running local stack, e.g. http://127.0.0.1:3000 (default: start one)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-benign", type=int, default=6)
    parser.add_argument("--per-attack", type=int, default=4)
    parser.add_argument("--ops-token", help="with --base: the stack's ops token (default: .local/demo.json)")
    parser.add_argument("--arrival", choices=ARRIVALS, default="incremental", help="how records arrive (see arrivals)")
    args = parser.parse_args(argv)
    if args.base:
        local = json.loads(Path(".local/demo.json").read_text())
        ops = args.ops_token or local["ops"]["token"]
        report = simulate(
            args.base, args.seed, args.per_benign, args.per_attack, ops_token=ops, arrival=args.arrival,
            partner=local.get("partner"),
        )  # fmt: skip
    else:
        from devstack.launch import running_stack

        with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp)) as (base, demo, _):
            ops = demo["ops"]["token"]
            report = simulate(
                base, args.seed, args.per_benign, args.per_attack, ops_token=ops, arrival=args.arrival,
                partner=demo.get("partner"),
            )  # fmt: skip
    print(table(report))
    total = report["_total"]
    return 0 if total["recall"] >= 0.95 and total["benign_clean"] >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())
