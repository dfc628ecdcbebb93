"""One API key used from many IP addresses it was never used from: a leaked key."""

from __future__ import annotations

from collections import defaultdict

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    if ctx.learning:
        return None
    seen = ctx.before.get("key_ips", {})
    allowed = set(ctx.before.get("allow", {}).get("ips", []))
    new: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in ctx.records:
        if r.kind == "api_request" and r.key_id and r.ip and r.ip not in seen.get(r.key_id, {}) and r.ip not in allowed:
            new[r.key_id][r.ip].append(r)
    for key_id, ips in sorted(new.items()):
        if len(ips) >= ctx.t("min_new_ips") and seen.get(key_id):
            sample = ", ".join(sorted(ips)[:5])
            return Finding(
                {"key": key_id, "n": len(ips), "sample": sample, "known": len(seen.get(key_id, {}))},
                [r for recs in ips.values() for r in recs],
                subject={"ips": sorted(ips)},
            )
    return None


_KNOWN = {"key_ips": {"key_1": {"198.51.100.1": "x", "198.51.100.2": "x"}}}

RULE = Rule(
    id="api_key_many_new_ips",
    severity="high",
    thresholds={"min_new_ips": 5},
    evaluate=evaluate,
    explanation="API key {key} was used from {n} new IP addresses ({sample}) since the last scan; "
    "before, it was used from {known}",
    cases=(
        Case(
            "leaked key",
            [
                rec("api_request", 5, key_id="key_1", phone_number_id="pn_1", count=10, ip=f"203.0.113.{i}")
                for i in range(8)
            ],
            _KNOWN,
            contains="API key key_1 was used from 8 new IP addresses",
        ),
        Case(
            "integration from its usual servers",
            [rec("api_request", 5, key_id="key_1", count=900, ip="198.51.100.1")],
            _KNOWN,
            fires=False,
        ),
        Case(
            "a brand-new key has no history to compare",
            [rec("api_request", 5, key_id="key_2", count=9, ip=f"203.0.113.{i}") for i in range(8)],
            _KNOWN,
            fires=False,
        ),
    ),
)
