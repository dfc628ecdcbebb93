"""New destination countries: a real share of an hour's messages to countries never used."""

from __future__ import annotations

from collections import defaultdict

from wabaguard.risk.model import Case, Context, Finding, Rule, fmt_int, rec


def evaluate(ctx: Context) -> Finding | None:
    known = ctx.before.get("countries", {})
    if ctx.learning or not known:
        return None  # nothing to compare with yet: learn quietly
    sends = [r for r in ctx.records if r.kind == "messages_sent"]
    by_country: dict[str, int] = defaultdict(int)
    for r in sends:
        for cc, k in r.countries.items():
            by_country[cc] += k
    total = sum(by_country.values())
    new = {cc: k for cc, k in by_country.items() if cc not in known}
    new_total = sum(new.values())
    if not total or new_total < ctx.t("min_messages") or new_total / total < ctx.t("min_share"):
        return None
    names = ", ".join(sorted(new, key=lambda c: -new[c]))
    return Finding(
        {
            "new": fmt_int(new_total),
            "total": fmt_int(total),
            "pct": f"{new_total / total:.0%}",
            "countries": names,
            "usual": ", ".join(sorted(known)),
        },
        [r for r in sends if set(r.countries) & set(new)],
        subject={"countries": sorted(new)},
    )


RULE = Rule(
    id="new_destination_countries",
    severity="medium",
    thresholds={"min_messages": 50, "min_share": 0.2},
    evaluate=evaluate,
    explanation="sent {new} of {total} messages ({pct}) to {countries}, countries this account never sent to "
    "before (usual: {usual})",
    cases=(
        Case(
            "sudden traffic to new countries",
            [rec("messages_sent", 10, phone_number_id="pn_1", count=1000, countries={"NG": 700, "DE": 300})],
            {"countries": {"DE": "x"}},
            contains="700 of 1,000 messages (70%) to NG",
        ),
        Case(
            "a few messages abroad",
            [rec("messages_sent", 10, phone_number_id="pn_1", count=1000, countries={"FR": 30, "DE": 970})],
            {"countries": {"DE": "x"}},
            fires=False,
        ),
        Case(
            "new account learns",
            [rec("messages_sent", 10, phone_number_id="pn_1", count=1000, countries={"NG": 1000})],
            {"countries": {"DE": "x"}},
            fires=False,
            account_age_days=1,
        ),
    ),
)
