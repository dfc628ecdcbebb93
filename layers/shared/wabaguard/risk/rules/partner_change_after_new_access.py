"""A Partner change requested within a day of a key action or login from a country or an IP
address new to the account: stolen credentials used from elsewhere, then the shortest path to
owning the WABA. ``high`` puts the account under review, which also holds the request's
submission (§Partner change) while people look."""

from __future__ import annotations

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    for r in sorted(ctx.records, key=lambda x: x.at):
        if r.kind != "key_action" or r.action != "request_partner_change":
            continue
        found = ctx.novel_before(r.at, ("novel_ips", "novel_access"))
        if found:
            when, what = found
            at = r.at.strftime("%Y-%m-%dT%H:%M:%SZ")
            return Finding({"at": at, "by": r.user_id or "?", "what": what, "when": when}, [r])
    return None


KNOWN = {"access_countries": {"DE": "x"}, "ips": {"198.51.100.1": "x"}}

RULE = Rule(
    id="partner_change_after_new_access",
    severity="high",
    thresholds={"window_hours": 24},
    evaluate=evaluate,
    explanation="A Partner change was requested at {at} by {by}, within a day of {what} at {when}",
    cases=(
        Case(
            "Partner change requested from a new country",
            [rec("key_action", 30, action="request_partner_change", user_id="u1", ip="203.0.113.50", country="RU")],
            KNOWN,
            contains="request_partner_change by u1",
        ),
        Case(
            "Partner change hours after a login from a new IP in the home country",
            [
                rec("login", 6 * 60, user_id="u1", ip="203.0.113.77", country="DE"),
                rec("key_action", 1, action="request_partner_change", user_id="u1", ip="198.51.100.1", country="DE"),
            ],
            KNOWN,
            contains="new to it",
        ),
        Case(
            "Partner change from the usual IP and country",
            [rec("key_action", 1, action="request_partner_change", user_id="u1", ip="198.51.100.1", country="DE")],
            KNOWN,
            fires=False,
        ),
        Case(
            "Partner change two days after a login from a new IP",
            [
                rec("login", 50 * 60, user_id="u1", ip="203.0.113.77", country="DE"),
                rec("key_action", 1, action="request_partner_change", user_id="u1", ip="198.51.100.1", country="DE"),
            ],
            KNOWN,
            fires=False,
        ),
        Case(
            "A webhook change from a new country, without a Partner change",
            [rec("key_action", 1, action="set_webhook_url", user_id="u1", ip="203.0.113.50", country="RU")],
            KNOWN,
            fires=False,
        ),
    ),
)
