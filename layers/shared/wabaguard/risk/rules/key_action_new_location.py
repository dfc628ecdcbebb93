"""A key action from an IP address and a country this account has never been used from."""

from __future__ import annotations

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    ips, countries = ctx.before.get("ips", {}), ctx.before.get("access_countries", {})
    if ctx.learning or not countries:
        return None
    allowed = set(ctx.before.get("allow", {}).get("countries", []))
    for r in sorted(ctx.records, key=lambda x: x.at):
        if r.kind != "key_action" or not r.ip or not r.country:
            continue
        if r.ip in ips or r.country in countries or r.country in allowed:
            continue
        return Finding(
            {
                "action": r.action,
                "user": r.user_id,
                "ip": r.ip,
                "country": r.country,
                "known": ", ".join(sorted(countries)),
            },
            [r],
            subject={"ips": [r.ip], "countries": [r.country]},
        )
    return None


RULE = Rule(
    id="key_action_new_location",
    severity="medium",
    thresholds={},
    evaluate=evaluate,
    explanation="{action} by {user} from {ip} in {country}, never seen for this account (known countries: {known})",
    cases=(
        Case(
            "webhook changed from abroad",
            [rec("key_action", 3, action="set_webhook_url", user_id="u1", ip="203.0.113.50", country="RU")],
            {"ips": {"198.51.100.1": "x"}, "access_countries": {"DE": "x"}},
            contains="set_webhook_url by u1 from 203.0.113.50 in RU",
        ),
        Case(
            "new IP in a known country",
            [rec("key_action", 3, action="set_webhook_url", user_id="u1", ip="203.0.113.50", country="DE")],
            {"ips": {"198.51.100.1": "x"}, "access_countries": {"DE": "x"}},
            fires=False,
        ),
        Case(
            "login abroad without key action",
            [rec("login", 3, user_id="u1", ip="203.0.113.50", country="RU")],
            {"ips": {"198.51.100.1": "x"}, "access_countries": {"DE": "x"}},
            fires=False,
        ),
    ),
)
