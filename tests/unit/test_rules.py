"""Runs the test cases every rule keeps beside its definition, and checks the rule catalogue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from wabaguard.risk.model import NOW, Case, Context, Rule
from wabaguard.risk.rules import ALL_RULES
from wabaguard.risk.runner import evaluate, explain, rules
from wabaguard.risk.state import empty, fold

CASES = [(rule, case) for rule in ALL_RULES for case in rule.cases]


def run(rule: Rule, case: Case):  # type: ignore[no-untyped-def]
    before = {**empty(), **case.before}
    after = {**fold(before, case.records, NOW), **({"users": case.before["users"]} if "users" in case.before else {})}
    ctx = Context("acc_1", NOW, before, after, case.records, NOW - timedelta(days=case.account_age_days))
    return evaluate(rule, ctx)


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}: {c.name}" for r, c in CASES])
def test_rule_case(rule: Rule, case: Case) -> None:
    finding = run(rule, case)
    assert (finding is not None) == case.fires, case.name
    if finding is None:
        return
    text = explain(rule, finding)
    if case.severity:
        assert (finding.severity or rule.severity) == case.severity
    if case.contains:
        assert case.contains in text, text
    assert "{" not in text  # every placeholder was filled


def test_every_rule_is_declared_with_cases_on_both_sides() -> None:
    ids = [r.id for r in ALL_RULES]
    assert len(ids) == len(set(ids))
    for rule in ALL_RULES:
        assert rule.severity in ("low", "medium", "high")
        assert any(c.fires for c in rule.cases) and any(not c.fires for c in rule.cases), rule.id


def test_configuration_overrides_thresholds_and_audit_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_RULES_CONFIG", '{"volume_spike": {"thresholds": {"factor": 3}, "audit_only": true}}')
    spike = next(r for r in rules() if r.id == "volume_spike")
    assert spike.thresholds["factor"] == 3 and spike.audit_only
    monkeypatch.setenv("RISK_RULES_CONFIG", '{"nope": {}}')
    with pytest.raises(ValueError, match="unknown rules"):
        rules()
    monkeypatch.setenv("RISK_RULES_CONFIG", '{"volume_spike": {"thresholds": {"bogus": 1}}}')
    with pytest.raises(ValueError, match="no thresholds"):
        rules()


def test_fold_is_bounded_and_pure() -> None:
    from wabaguard.risk.model import hours_of, rec

    before = {**empty(), "phones": {"pn_1": {"hours": hours_of(10, 300, start_days_ago=40)}}}
    after = fold(before, [rec("messages_sent", 1, phone_number_id="pn_1", count=5, countries={"DE": 5})], NOW)
    assert len(before["phones"]["pn_1"]["hours"]) == 300  # input untouched
    assert all(h >= (NOW - timedelta(days=14)).strftime("%Y%m%d%H") for h in after["phones"]["pn_1"]["hours"])
    assert after["countries"] == {"DE": "2026-11-24T11:59:00Z"}


def _wake(users: dict[str, str], last_active: dict[str, str]) -> object:
    from wabaguard.risk.rules import stale_users

    after = {**empty(), "users": {u: {"email": f"{u}@x.test", "created_at": c} for u, c in users.items()}}
    after["last_active"] = last_active
    ctx = Context("acc_1", NOW, after, after, [], NOW - timedelta(days=30))
    ctx.thresholds = stale_users.RULE.thresholds
    assert stale_users.RULE.wake is not None
    return stale_users.RULE.wake(ctx)


def test_stale_users_asks_to_look_again_when_the_first_user_would_go_stale() -> None:
    due = _wake({"u1": "2026-11-01T00:00:00Z", "u2": "2026-10-01T00:00:00Z"}, {"u2": "2026-11-20T08:00:00Z"})
    assert due == NOW.replace(year=2027, month=1, day=30, hour=0, minute=1)  # u1: created Nov 1, never active


def test_stale_users_with_a_stale_user_already_looks_again_one_period_later() -> None:
    assert _wake({"u1": "2026-01-01T00:00:00Z"}, {}) == NOW + timedelta(days=90)


def test_stale_users_without_users_never_asks_to_wake() -> None:
    assert _wake({}, {}) is None
