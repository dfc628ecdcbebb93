"""Per-account memory of the risk scan, as plain JSON, folded forward one batch of records at a time.

Bounded by design: hourly volumes for 14 days per phone number, IPs seen in 90 days, the last few
locations per user. A run's work therefore grows with its new records, never with history.
"""

from __future__ import annotations

import copy
import json
import statistics
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from wabaguard.risk.model import Rec

BASELINE_DAYS = 14
IP_MEMORY_DAYS = 90
LOCATIONS_KEPT = 12

# Every collection the state keeps has a ceiling (the newest entries are kept), every key a
# length limit, and the whole state a byte budget: the item, with its overlap ids, must stay far
# below DynamoDB's 400 KB whatever the records say (an oversized item would stop every scan of
# the account). Values come from producers and from requests, so none is trusted to be small.
MAX_KEY = 128
LIMITS = {
    "phones": 40,
    "countries": 260,
    "ips": 1000,
    "access_countries": 260,
    "key_ips": 100,
    "key_ips_per_key": 200,
    "last_active": 500,
    "user_locs": 200,
    "webhook_hosts": 100,
    "novel_access": 50,
    "novel_ips": 50,
}
STATE_BUDGET = 180_000  # bytes of JSON; the overlap ids have their own ceiling (risk.MAX_RECENT_IDS)


def hour_key(at: datetime) -> str:
    return at.strftime("%Y%m%d%H")


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def empty() -> dict[str, Any]:
    return {
        "phones": {},
        "countries": {},
        "ips": {},
        "access_countries": {},
        "key_ips": {},
        "last_active": {},
        "user_locs": {},
        "webhook_hosts": {},
        "novel_access": {},  # at -> words: key actions and logins from a country never seen before (2 days)
        "novel_ips": {},  # at -> words: key actions and logins from an IP address never seen before (2 days)
        "tolerance": {},
        "records": 0,
    }


def _short(value: str | None) -> bool:
    return bool(value) and len(value or "") <= MAX_KEY


def fold(state: dict[str, Any], records: list[Rec], now: datetime) -> dict[str, Any]:
    """A new state with ``records`` counted in (the input is not modified)."""
    out = {**empty(), **copy.deepcopy(state)}
    for r in sorted(records, key=lambda rec: rec.at):
        r = _bounded(r)
        at = _iso(r.at)
        out["records"] += 1
        if r.kind == "messages_sent" and r.phone_number_id:
            hours = out["phones"].setdefault(r.phone_number_id, {"hours": {}})["hours"]
            hours[hour_key(r.at)] = hours.get(hour_key(r.at), 0) + r.count
            for cc in r.countries:
                out["countries"].setdefault(cc, at)
        if r.ip:
            if r.kind in ("key_action", "login") and out["ips"] and r.ip not in out["ips"]:
                what = f"{r.action or r.kind} by {r.user_id or 'an API key'} from {r.ip} (an IP address new to it)"
                out.setdefault("novel_ips", {})[at] = what
            out["ips"][r.ip] = max(at, out["ips"].get(r.ip, at))
        if r.country and r.kind != "messages_sent":
            known = out["access_countries"]
            if r.kind in ("key_action", "login") and known and r.country not in known:
                what = f"{r.action or r.kind} by {r.user_id or 'an API key'} from {r.ip or '?'} ({r.country})"
                out["novel_access"][at] = what
            known.setdefault(r.country, at)
        if r.kind == "api_request" and r.key_id and r.ip:
            out["key_ips"].setdefault(r.key_id, {}).setdefault(r.ip, at)
        if r.user_id:
            if at > out["last_active"].get(r.user_id, ""):
                out["last_active"][r.user_id] = at
            if r.country:
                locs = out["user_locs"].setdefault(r.user_id, [])
                locs.append([at, r.country])
                locs.sort()
                del locs[:-LOCATIONS_KEPT]
        if r.kind == "key_action" and r.action == "set_webhook_url" and r.detail:
            out["webhook_hosts"].setdefault(r.detail, at)
    _trim(out, now)
    bound(out)
    return out


def _bounded(r: Rec) -> Rec:
    """The record with every identifier too long to be real dropped (it is not remembered)."""
    fields: dict[str, Any] = {
        name: None
        for name in ("phone_number_id", "key_id", "user_id", "ip", "country", "detail")
        if getattr(r, name) is not None and not _short(getattr(r, name))
    }
    countries = {cc: n for cc, n in r.countries.items() if len(cc) == 2}
    if fields or len(countries) != len(r.countries):
        return replace(r, countries=countries, **fields)
    return r


def _newest(entries: dict[str, Any], limit: int, when: Any = lambda v: v) -> dict[str, Any]:
    """At most ``limit`` entries, the newest by ``when(value)`` kept."""
    if len(entries) <= limit:
        return entries
    return dict(sorted(entries.items(), key=lambda kv: str(when(kv[1])))[-limit:])


def _latest_hour(phone: dict[str, Any]) -> str:
    return max(phone.get("hours") or {"": 0})


def _latest_loc(locs: list[list[str]]) -> str:
    return max((loc[0] for loc in locs), default="")


def bound(state: dict[str, Any]) -> None:
    """Hold every collection to its ceiling, then the whole state to its byte budget."""
    state["phones"] = _newest(state["phones"], LIMITS["phones"], _latest_hour)
    for name in ("countries", "ips", "access_countries", "last_active", "webhook_hosts"):
        state[name] = _newest(state[name], LIMITS[name])
    for name in ("novel_access", "novel_ips"):
        state[name] = dict(sorted((state.get(name) or {}).items())[-LIMITS[name] :])
    for key_id, ips in list(state["key_ips"].items()):
        state["key_ips"][key_id] = _newest(ips, LIMITS["key_ips_per_key"])
    state["key_ips"] = _newest(state["key_ips"], LIMITS["key_ips"], lambda ips: max(ips.values(), default=""))
    state["user_locs"] = _newest(state["user_locs"], LIMITS["user_locs"], _latest_loc)
    allow = state.get("allow")
    if isinstance(allow, dict):
        for name in ("ips", "countries"):
            allow[name] = list(allow.get(name) or [])[-LIMITS["access_countries"] :]
    # Last resort: halve the largest collection (newest kept) until the state fits its budget.
    while len(json.dumps(state, separators=(",", ":"))) > STATE_BUDGET:
        name = max(
            (n for n in LIMITS if n in state and isinstance(state[n], dict) and state[n]),
            key=lambda n: len(json.dumps(state[n])),
        )
        keep = len(state[name]) // 2
        when = {"phones": _latest_hour, "user_locs": _latest_loc}.get(name, lambda v: v if isinstance(v, str) else "")
        state[name] = _newest(state[name], keep, when) if keep else {}


def _trim(state: dict[str, Any], now: datetime) -> None:
    oldest_hour = hour_key(now - timedelta(days=BASELINE_DAYS))
    for phone in state["phones"].values():
        phone["hours"] = {h: n for h, n in phone["hours"].items() if h >= oldest_hour}
    oldest_novel = _iso(now - timedelta(days=2))
    for name in ("novel_access", "novel_ips"):
        state[name] = {at: w for at, w in (state.get(name) or {}).items() if at >= oldest_novel}
    oldest_ip = _iso(now - timedelta(days=IP_MEMORY_DAYS))
    state["ips"] = {ip: at for ip, at in state["ips"].items() if at >= oldest_ip}
    for key_id, ips in list(state["key_ips"].items()):
        if len(ips) > 500:
            state["key_ips"][key_id] = dict(sorted(ips.items(), key=lambda kv: kv[1])[-500:])


def baseline(state: dict[str, Any], phone_number_id: str, exclude_hour: str) -> tuple[float, float, int]:
    """(median, MAD, active hours) of a phone's hourly volume, the hour under test excluded."""
    hours = state.get("phones", {}).get(phone_number_id, {}).get("hours", {})
    values = [n for h, n in hours.items() if h != exclude_hour and n > 0]
    if not values:
        return 0.0, 0.0, 0
    med = statistics.median(values)
    mad = statistics.median([abs(v - med) for v in values])
    return float(med), float(mad), len(values)
