"""Hygiene: one user active from several countries at once, as if a login were shared."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import timedelta

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    by_user: dict[str, list] = defaultdict(list)
    for r in ctx.records:
        if r.user_id and r.country:
            by_user[r.user_id].append(r)
    window = timedelta(minutes=ctx.t("window_minutes"))
    for user, recs in sorted(by_user.items()):
        recs.sort(key=lambda r: r.at)
        for i, first in enumerate(recs):
            inside = [r for r in recs[i:] if r.at - first.at <= window]
            switches = sum(1 for a, b in itertools.pairwise(inside) if a.country != b.country)
            if switches >= ctx.t("min_switches"):
                countries = ", ".join(sorted({r.country for r in inside if r.country}))
                return Finding({"user": user, "countries": countries, "minutes": int(ctx.t("window_minutes"))}, inside)
    return None


RULE = Rule(
    id="shared_login",
    severity="low",
    thresholds={"window_minutes": 60, "min_switches": 2},
    evaluate=evaluate,
    explanation="user {user} was active from {countries} back and forth within {minutes} minutes, as if several "
    "people shared one login",
    cases=(
        Case(
            "two offices on one login",
            [
                rec("login", 50, user_id="u1", country="DE"),
                rec("login", 40, user_id="u1", country="IN"),
                rec("login", 30, user_id="u1", country="DE"),
            ],
            contains="user u1 was active from DE, IN",
        ),
        Case(
            "one trip",
            [rec("login", 50, user_id="u1", country="DE"), rec("login", 10, user_id="u1", country="AT")],
            fires=False,
        ),
    ),
)
