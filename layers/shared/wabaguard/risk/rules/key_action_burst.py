"""A burst of different key actions in a short window; worse from a new IP or country."""

from __future__ import annotations

from datetime import timedelta

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    if ctx.learning:
        return None  # a new account is set up with many key actions
    actions = sorted((r for r in ctx.records if r.kind == "key_action" and r.action), key=lambda r: r.at)
    window = timedelta(minutes=ctx.t("window_minutes"))
    for i, first in enumerate(actions):
        inside = [r for r in actions[i:] if r.at - first.at <= window]
        kinds = sorted({r.action for r in inside if r.action})
        if len(kinds) < ctx.t("min_distinct"):
            continue
        ips, countries = ctx.before.get("ips", {}), ctx.before.get("access_countries", {})
        novel = [r for r in inside if (r.ip and r.ip not in ips) and (not r.country or r.country not in countries)]
        where = ""
        if novel:
            where = (
                f", from {novel[0].ip}"
                + (f" in {novel[0].country}" if novel[0].country else "")
                + " which this account never used"
            )
        minutes = max(1, int((inside[-1].at - first.at).total_seconds() // 60))
        return Finding(
            {"n": len(kinds), "actions": ", ".join(kinds), "minutes": minutes, "where": where},
            inside,
            severity="high" if novel else None,
            subject={
                "ips": sorted({r.ip for r in novel if r.ip}),
                "countries": sorted({r.country for r in novel if r.country}),
            },
        )
    return None


_KNOWN = {"ips": {"198.51.100.1": "x"}, "access_countries": {"DE": "x"}}
_BURST = ["set_webhook_url", "create_api_key", "request_partner_change"]

RULE = Rule(
    id="key_action_burst",
    severity="medium",
    thresholds={"window_minutes": 15, "min_distinct": 3},
    evaluate=evaluate,
    explanation="made {n} different key actions ({actions}) within {minutes} minutes{where}",
    cases=(
        Case(
            "takeover from a new country",
            [
                rec("key_action", 10 - i, action=a, user_id="u1", ip="203.0.113.9", country="NG")
                for i, a in enumerate(_BURST)
            ],
            _KNOWN,
            severity="high",
            contains="from 203.0.113.9 in NG",
        ),
        Case(
            "busy admin at the usual place",
            [
                rec("key_action", 10 - i, action=a, user_id="u1", ip="198.51.100.1", country="DE")
                for i, a in enumerate(_BURST)
            ],
            _KNOWN,
            severity="medium",
        ),
        Case(
            "spread over the day",
            [
                rec("key_action", 300 * i, action=a, user_id="u1", ip="198.51.100.1", country="DE")
                for i, a in enumerate(_BURST)
            ],
            _KNOWN,
            fires=False,
        ),
        Case(
            "new account set-up",
            [
                rec("key_action", 10 - i, action=a, user_id="u1", ip="203.0.113.9", country="NG")
                for i, a in enumerate(_BURST)
            ],
            {},
            fires=False,
            account_age_days=0.5,
        ),
    ),
)
