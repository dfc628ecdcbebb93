"""A passkey whose sign counter went back: the signature was valid, but an authenticator that
counts never repeats a count — a copy of the passkey's private key is being used elsewhere."""

from __future__ import annotations

from wabaguard.risk.model import Case, Context, Finding, Rule, rec


def evaluate(ctx: Context) -> Finding | None:
    hits = sorted((r for r in ctx.records if r.kind == "passkey_clone_suspected"), key=lambda r: r.at)
    if not hits:
        return None
    first = hits[0]
    return Finding(
        {"user": first.user_id or "?", "ips": ", ".join(sorted({r.ip for r in hits if r.ip})) or "unknown"},
        hits,
        subject={"ips": sorted({r.ip for r in hits if r.ip})},
    )


RULE = Rule(
    id="passkey_clone_suspected",
    severity="high",
    thresholds={},
    evaluate=evaluate,
    explanation="a passkey of user {user} signed with a sign counter that went back (from {ips}): a copy of the "
    "passkey may be in someone else's hands; remove it and register a new one",
    cases=(
        Case(
            "a counter that went back",
            [rec("passkey_clone_suspected", 2, user_id="u1", ip="203.0.113.9")],
            severity="high",
            contains="passkey of user u1",
        ),
        Case("ordinary passkey use", [rec("key_action", 2, user_id="u1", ip="203.0.113.9")], fires=False),
    ),
)
