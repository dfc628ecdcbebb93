"""Impossible travel: one user in two places too far apart for the time between them."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime

from wabaguard.risk.geo import distance_km
from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    by_user: dict[str, list[tuple[datetime, str, object]]] = defaultdict(list)
    for user, locs in ctx.before.get("user_locs", {}).items():
        if locs:
            at, cc = locs[-1]
            by_user[user].append((datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=ctx.now.tzinfo), cc, None))
    for r in ctx.records:
        if r.user_id and r.country:
            by_user[r.user_id].append((r.at, r.country, r))
    for user, seq in sorted(by_user.items()):
        seq.sort(key=lambda x: x[0])
        for (t1, a, r1), (t2, b, r2) in itertools.pairwise(seq):
            if a == b or r2 is None:
                continue
            km = distance_km(a, b)
            hours = max((t2 - t1).total_seconds() / 3600, 1 / 60)
            if km is None or km < ctx.t("min_km") or km / hours < ctx.t("max_kmh"):
                continue
            second = r2  # the record that arrived impossibly fast
            severe = getattr(second, "kind", "") == "key_action"
            return Finding(
                {
                    "user": user,
                    "a": a,
                    "b": b,
                    "t1": t1.strftime("%H:%M"),
                    "t2": t2.strftime("%H:%M UTC"),
                    "km": f"{km:,.0f}",
                    "hours": f"{hours:.1f}",
                    "speed": f"{km / hours:,.0f}",
                },
                [x for x in (r1, r2) if x is not None],  # type: ignore[misc]
                severity=None if severe else "low",
                subject={"countries": [b]},
            )
    return None


RULE = Rule(
    id="impossible_travel",
    severity="medium",
    thresholds={"max_kmh": 1000, "min_km": 1000},
    evaluate=evaluate,
    explanation="user {user} was seen in {a} at {t1} and in {b} at {t2}: {km} km in {hours} h ({speed} km/h)",
    cases=(
        Case(
            "key action from far away an hour later",
            [
                rec("login", 70, user_id="u1", country="DE", ip="198.51.100.1"),
                rec("key_action", 10, user_id="u1", country="BR", ip="203.0.113.1", action="create_api_key"),
            ],
            severity="medium",
            contains="user u1 was seen in DE",
        ),
        Case(
            "traveller reading only",
            [rec("login", 70, user_id="u1", country="DE"), rec("login", 10, user_id="u1", country="US")],
            severity="low",
        ),
        Case(
            "a real flight",
            [
                rec("login", 700, user_id="u1", country="DE"),
                rec("key_action", 10, user_id="u1", country="US", action="create_template"),
            ],
            fires=False,
        ),
        Case(
            "neighbours",
            [
                rec("login", 30, user_id="u1", country="DE"),
                rec("key_action", 10, user_id="u1", country="AT", action="create_template"),
            ],
            fires=False,
        ),
    ),
)
