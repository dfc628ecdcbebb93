"""Meta reports a two-step verification PIN change or reset within a day of a key action or login
from a country this account had never been used from: the pattern of a number being taken over
(credentials used from abroad, then the number re-registered elsewhere)."""

from __future__ import annotations

from wabaguard.risk.model import Case, Context, Finding, Rule, rec

PIN_EVENTS = frozenset({"PIN_CHANGED", "PIN_RESET_REQUEST", "PIN_REQUEST_SUCCESS"})


def evaluate(ctx: Context) -> Finding | None:
    for r in sorted(ctx.records, key=lambda x: x.at):
        if r.kind != "meta_event" or r.action not in PIN_EVENTS:
            continue
        found = ctx.novel_before(r.at)
        if found:
            when, what = found
            return Finding(
                {"event": r.action, "at": r.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "what": what, "when": when}, [r]
            )
    return None


RULE = Rule(
    id="pin_reset_after_new_location",
    severity="high",
    thresholds={"window_hours": 24},
    evaluate=evaluate,
    explanation="Meta reported {event} at {at}, within a day of {what} at {when}, from a country new to this account",
    cases=(
        Case(
            "PIN reset the day after a webhook change from abroad",
            [
                rec("key_action", 20, action="set_webhook_url", user_id="u1", ip="203.0.113.50", country="RU"),
                rec("meta_event", 4, action="PIN_RESET_REQUEST"),
            ],
            {"access_countries": {"DE": "x"}, "ips": {"198.51.100.1": "x"}},
            contains="PIN_RESET_REQUEST",
        ),
        Case(
            "PIN change with only known countries",
            [
                rec("key_action", 20, action="set_webhook_url", user_id="u1", ip="198.51.100.1", country="DE"),
                rec("meta_event", 4, action="PIN_CHANGED"),
            ],
            {"access_countries": {"DE": "x"}, "ips": {"198.51.100.1": "x"}},
            fires=False,
        ),
        Case(
            "PIN reset two days after the login from abroad",
            [
                rec("login", 3600, user_id="u1", ip="203.0.113.50", country="BR"),
                rec("meta_event", 2, action="PIN_RESET_REQUEST"),
            ],
            {"access_countries": {"DE": "x"}, "ips": {"198.51.100.1": "x"}},
            fires=False,
        ),
    ),
)
