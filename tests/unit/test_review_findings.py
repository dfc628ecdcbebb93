"""Security review findings (issue 10) that pure logic settles: each test fails on the old code."""

from __future__ import annotations

import json
from datetime import timedelta

from wabaguard.risk import state as state_mod
from wabaguard.risk.model import NOW, Rec


def _hostile(i: int) -> list[Rec]:
    big = "X" * 9000
    at = NOW - timedelta(seconds=i)
    return [
        Rec(f"a{i}", "otp_failed", at, user_id=f"usr_{i}", ip=f"198.51.{i // 250}.{i % 250}", country=big),
        Rec(f"b{i}", "key_action", at, user_id=big, ip=big, country="DE", action="set_webhook_url", detail=big),
        Rec(f"c{i}", "api_request", at, key_id=f"key_{i % 300}", ip=f"2001:db8::{i:x}", country="FR", count=1),
        Rec(f"d{i}", "messages_sent", at, phone_number_id=f"pn_{i}", count=5, countries={"DE": 3, big[:2]: 2}),
    ]


def test_risk_state_stays_bounded_whatever_the_records_say() -> None:
    """Item 1: 9 KB values and thousands of distinct ids used to grow the state item past
    DynamoDB's 400 KB limit; now every collection has a ceiling and the state a byte budget."""
    state: dict = {}
    for batch in range(20):
        records = [r for i in range(batch * 250, (batch + 1) * 250) for r in _hostile(i)]
        state = state_mod.fold(state, records, NOW)
    size = len(json.dumps(state, separators=(",", ":")))
    assert size <= state_mod.STATE_BUDGET
    assert all(len(k) <= state_mod.MAX_KEY for k in state["ips"])
    assert all(len(k) <= state_mod.MAX_KEY for k in state["access_countries"])
    assert len(state["ips"]) <= state_mod.LIMITS["ips"]
    assert len(state["phones"]) <= state_mod.LIMITS["phones"]
    # the newest are kept: what rules compare against is the recent past (record i is i s old)
    assert "198.51.0.0" in state["ips"] and "198.51.19.249" not in state["ips"]


def test_bounded_state_still_remembers_ordinary_accounts_whole() -> None:
    records = [
        Rec("r1", "login", NOW, user_id="usr_1", ip="81.2.69.142", country="GB"),
        Rec("r2", "messages_sent", NOW, phone_number_id="pn_1", count=10, countries={"GB": 10}),
    ]
    state = state_mod.fold({}, records, NOW)
    assert state["ips"] == {"81.2.69.142": "2026-11-24T12:00:00Z"}
    assert state["access_countries"] == {"GB": "2026-11-24T12:00:00Z"}
    assert state["phones"]["pn_1"]["hours"] == {"2026112412": 10}


# ---------------------------------------------------------------- item 17: per-source limits
def test_the_template_puts_a_waf_rate_rule_per_source_ip_in_front_of_the_stage() -> None:
    from devstack.cfn import Stack

    stack = Stack()
    acl = stack.resources["ApiWebAcl"]["Properties"]
    rules = {r["Name"]: r for r in acl["Rules"]}
    assert rules["api-per-ip"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    otp = rules["otp-per-ip"]["Statement"]["RateBasedStatement"]
    assert otp["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/v1/otp/"
    assert acl["VisibilityConfig"]["SampledRequestsEnabled"] is False  # samples would keep bearer tokens
    assoc = stack.resources["ApiWebAclAssociation"]["Properties"]
    assert assoc["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert "/stages/v1" in assoc["ResourceArn"]["Fn::Sub"]


def test_the_local_waf_blocks_a_source_past_its_limit_and_only_that_source() -> None:
    from devstack.cfn import Stack
    from devstack.waf import Waf

    now = {"t": 1000.0}
    waf = Waf(Stack(parameters={"WafOtpRateLimit": "10", "WafRateLimit": "50"}), clock=lambda: now["t"])
    for _ in range(10):
        assert waf.check("198.51.100.1", "/v1/otp/challenges") is None
    blocked = waf.check("198.51.100.1", "/v1/otp/challenges")
    assert blocked is not None and blocked.status == 429
    assert json.loads(blocked.body)["error"] == "rate_limited" and blocked.headers["Retry-After"] == "300"
    assert waf.check("198.51.100.2", "/v1/otp/challenges") is None, "another source is not affected"
    assert waf.check("198.51.100.1", "/v1/me") is None, "the OTP rule is scoped to /v1/otp/"
    now["t"] += 301
    assert waf.check("198.51.100.1", "/V1/OTP/challenges") is None, "the window slides"
