"""Per-account memory of the risk scan, as plain JSON, folded forward one batch of records at a time.

Bounded by design: hourly volumes for 14 days per phone number, IPs seen in 90 days, the last few
locations per user. A run's work therefore grows with its new records, never with history.
"""

from __future__ import annotations

import copy
import statistics
from datetime import datetime, timedelta
from typing import Any

from wabaguard.risk.model import Rec

BASELINE_DAYS = 14
IP_MEMORY_DAYS = 90
LOCATIONS_KEPT = 12


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
        "tolerance": {},
        "records": 0,
    }


def fold(state: dict[str, Any], records: list[Rec], now: datetime) -> dict[str, Any]:
    """A new state with ``records`` counted in (the input is not modified)."""
    out = {**empty(), **copy.deepcopy(state)}
    for r in sorted(records, key=lambda rec: rec.at):
        at = _iso(r.at)
        out["records"] += 1
        if r.kind == "messages_sent" and r.phone_number_id:
            hours = out["phones"].setdefault(r.phone_number_id, {"hours": {}})["hours"]
            hours[hour_key(r.at)] = hours.get(hour_key(r.at), 0) + r.count
            for cc in r.countries:
                out["countries"].setdefault(cc, at)
        if r.ip:
            out["ips"][r.ip] = max(at, out["ips"].get(r.ip, at))
        if r.country and r.kind != "messages_sent":
            out["access_countries"].setdefault(r.country, at)
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
    return out


def _trim(state: dict[str, Any], now: datetime) -> None:
    oldest_hour = hour_key(now - timedelta(days=BASELINE_DAYS))
    for phone in state["phones"].values():
        phone["hours"] = {h: n for h, n in phone["hours"].items() if h >= oldest_hour}
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
