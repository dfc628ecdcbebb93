"""OTP failure bursts, lockouts and replayed codes: someone is guessing or has intercepted codes."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    events = sorted(
        (r for r in ctx.records if r.kind in ("otp_failed", "otp_locked", "otp_replayed")), key=lambda r: r.at
    )
    replays = [r for r in events if r.kind == "otp_replayed"]
    if replays:
        r = replays[0]
        return Finding(
            {"what": "an already used one-time code was presented again", "user": r.user_id, "ips": r.ip or "unknown"},
            replays,
            severity="high",
            subject={"ips": [r.ip] if r.ip else []},
        )
    by_user: dict[str, list] = defaultdict(list)
    for r in events:
        by_user[r.user_id or "?"].append(r)
    window = timedelta(minutes=ctx.t("window_minutes"))
    for user, recs in sorted(by_user.items()):
        locks = [r for r in recs if r.kind == "otp_locked"]
        failed = [r for r in recs if r.kind == "otp_failed"]
        burst = [r for r in failed if failed and r.at - failed[0].at <= window]
        wrong = sum(max(1, r.count) for r in failed)  # aggregated records carry a count
        if locks or sum(max(1, r.count) for r in burst) >= ctx.t("min_failures"):
            ips = ", ".join(sorted({r.ip for r in recs if r.ip})) or "unknown"
            what = (
                f"{wrong} wrong one-time codes"
                + (" and an OTP lockout" if locks else "")
                + f" within {ctx.t('window_minutes'):.0f} minutes"
            )
            return Finding(
                {"what": what, "user": user, "ips": ips}, recs, subject={"ips": sorted({r.ip for r in recs if r.ip})}
            )
    return None


RULE = Rule(
    id="otp_failures",
    severity="medium",
    thresholds={"window_minutes": 15, "min_failures": 5},
    evaluate=evaluate,
    explanation="{what} for user {user}, from {ips}",
    cases=(
        Case(
            "guessing codes",
            [rec("otp_failed", 10 - i, user_id="u1", ip="203.0.113.4") for i in range(6)],
            contains="6 wrong one-time codes within 15 minutes for user u1",
        ),
        Case("a lockout", [rec("otp_locked", 1, user_id="u1", ip="203.0.113.4")], contains="OTP lockout"),
        Case("a replay is high", [rec("otp_replayed", 1, user_id="u1", ip="203.0.113.4")], severity="high"),
        Case("two typos", [rec("otp_failed", 3, user_id="u1"), rec("otp_failed", 2, user_id="u1")], fires=False),
    ),
)
