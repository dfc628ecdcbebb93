"""Volume spike: a phone number's hour far above its own robust baseline (median/MAD)."""

from __future__ import annotations

from collections import defaultdict

from wabaguard.risk.model import Case, Context, Finding, Rule, fmt_int, hours_of, rec
from wabaguard.risk.state import baseline, hour_key


def evaluate(ctx: Context) -> Finding | None:
    touched: dict[tuple[str, str], list] = defaultdict(list)
    for r in ctx.records:
        if r.kind == "messages_sent" and r.phone_number_id:
            touched[(r.phone_number_id, hour_key(r.at))].append(r)
    for (pn, hour), recs in sorted(touched.items()):
        total = ctx.after["phones"][pn]["hours"].get(hour, 0)
        med, mad, n = baseline(ctx.before, pn, hour)
        if n < ctx.t("min_active_hours"):
            continue  # no baseline yet: a new phone learns quietly
        usual = max(med, ctx.t("floor"))
        tolerance = float(ctx.before.get("tolerance", {}).get(pn, 1.0))
        limit = max(ctx.t("factor") * usual, med + ctx.t("mad_k") * 1.4826 * mad) * tolerance
        if total < ctx.t("min_volume") or total < limit:
            continue
        by_country: dict[str, int] = defaultdict(int)
        for r in recs:
            for cc, k in r.countries.items():
                by_country[cc] += k
        known = ctx.before.get("countries", {})
        new = {cc: k for cc, k in by_country.items() if cc not in known}
        sent = sum(by_country.values()) or 1
        share_new = sum(new.values()) / sent
        if new and share_new >= 0.2:
            top = ", ".join(sorted(new, key=lambda c: -new[c])[:3])
            where = f", {share_new:.0%} to {top} which it never used"
        else:
            where = ", to its usual countries"
        return Finding(
            {
                "count": fmt_int(total),
                "ratio": f"{total / usual:.0f}",
                "usual": fmt_int(usual),
                "hours": n,
                "phone": pn,
                "hour": f"{hour[:4]}-{hour[4:6]}-{hour[6:8]} {hour[8:]}:00 UTC",
                "where": where,
            },
            recs,
            severity="high" if share_new >= 0.5 else None,
            subject={"phone_number_id": pn},
        )
    return None


def _hist(count: int = 400, n: int = 100) -> dict:
    return {"phones": {"pn_1": {"hours": hours_of(count, n)}}, "countries": {"DE": "x", "AT": "x"}}


RULE = Rule(
    id="volume_spike",
    severity="medium",
    thresholds={"factor": 10, "min_volume": 1000, "floor": 50, "mad_k": 12, "min_active_hours": 24},
    evaluate=evaluate,
    explanation="sent {count} messages in the hour from {hour} on {phone}, {ratio}× this account's usual "
    "{usual} per hour (median of {hours} active hours in the last 14 days){where}",
    cases=(
        Case(
            "takeover blast to new countries",
            [
                rec(
                    "messages_sent",
                    5,
                    phone_number_id="pn_1",
                    count=6000,
                    countries={"NG": 3000, "ID": 1500, "PK": 900, "DE": 600},
                )
            ],
            _hist(),
            severity="high",
            contains="sent 6,000 messages in the hour from 2026-11-24 11:00 UTC on pn_1, 15× this account's usual 400",
        ),
        Case(
            "campaign at four times the usual volume",
            [rec("messages_sent", 5, phone_number_id="pn_1", count=1600, countries={"DE": 1400, "AT": 200})],
            _hist(),
            fires=False,
        ),
        Case(
            "big spike to usual countries is medium",
            [rec("messages_sent", 5, phone_number_id="pn_1", count=9000, countries={"DE": 9000})],
            _hist(),
            severity="medium",
            contains="to its usual countries",
        ),
        Case(
            "no baseline yet",
            [rec("messages_sent", 5, phone_number_id="pn_1", count=9000, countries={"NG": 9000})],
            _hist(n=5),
            fires=False,
        ),
        Case(
            "tiny account below the minimum volume",
            [rec("messages_sent", 5, phone_number_id="pn_1", count=600, countries={"DE": 600})],
            _hist(count=10),
            fires=False,
        ),
    ),
)
