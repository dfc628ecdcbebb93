"""Hygiene: users with no activity for 90 days should be removed (one user per person, cleaned up)."""

from __future__ import annotations

from datetime import datetime, timedelta

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    users = ctx.after.get("users", {})  # user_id -> {"email", "created_at"}, filled by the scan
    last = ctx.after.get("last_active", {})
    cutoff = (ctx.now - timedelta(days=ctx.t("days"))).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = sorted(
        info.get("email", uid)
        for uid, info in users.items()
        if max(last.get(uid, ""), info.get("created_at", "")) < cutoff
    )
    if not stale:
        return None
    return Finding({"n": len(stale), "days": int(ctx.t("days")), "who": ", ".join(stale)}, [])


def next_look(ctx: Context) -> datetime | None:
    """When the first user goes stale if nobody does anything meanwhile, so a dormant account
    (no records, so no scan of its own) is still checked; an account with a stale user already is
    looked at again one period later (a reminder while the user is still there)."""
    users = ctx.after.get("users", {})
    if not users:
        return None
    last = ctx.after.get("last_active", {})
    period = timedelta(days=ctx.t("days"))
    seen = [max(last.get(uid, ""), info.get("created_at", "")) for uid, info in users.items()]
    due = datetime.fromisoformat(min(seen)) + period
    due += timedelta(minutes=1)  # strictly past the cutoff when the scan gets there
    return due if due > ctx.now else ctx.now + period


def _users(created: str) -> dict:
    return {"users": {"u1": {"email": "old@acme.test", "created_at": created}}}


RULE = Rule(
    id="stale_users",
    severity="low",
    thresholds={"days": 90},
    evaluate=evaluate,
    explanation="{n} user(s) have not been active for {days} days: {who}; remove them if they left",
    wake=next_look,
    cases=(
        Case(
            "left the company",
            [rec("messages_sent", 1, phone_number_id="pn", count=1)],
            _users("2026-01-01T00:00:00Z"),
            contains="old@acme.test",
        ),
        Case("recently active", [rec("login", 1, user_id="u1")], _users("2026-01-01T00:00:00Z"), fires=False),
        Case(
            "new user",
            [rec("messages_sent", 1, phone_number_id="pn", count=1)],
            _users("2026-11-01T00:00:00Z"),
            fires=False,
        ),
    ),
)
