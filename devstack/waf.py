"""AWS WAF in front of the stage, as the template's ``AWS::WAFv2::WebACL`` describes it.

Only what wabaguard's web ACL uses is emulated — rate-based rules keyed on the source IP, with an
optional ``ByteMatchStatement`` on the URI path as scope-down, and Block actions with custom
responses. AWS managed rule groups (AWS's own signatures, e.g. known bad inputs) are listed in
``not_emulated`` and pass everything locally; any other rule stops the local stack from starting,
so the emulation can never silently drift from what is deployed.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from devstack.cfn import Stack


@dataclass
class Blocked:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _RateRule:
    name: str
    priority: int
    limit: int
    window: float
    scope_prefix: str | None
    lowercase: bool
    response: Blocked


def _scope(statement: dict[str, Any] | None) -> tuple[str | None, bool]:
    if statement is None:
        return None, False
    match = statement.get("ByteMatchStatement")
    if not match or set(match["FieldToMatch"]) != {"UriPath"} or match["PositionalConstraint"] != "STARTS_WITH":
        raise ValueError(f"devstack.waf cannot emulate scope-down statement {statement}")
    transforms = {t["Type"] for t in match.get("TextTransformations", [])}
    if transforms - {"NONE", "LOWERCASE"}:
        raise ValueError(f"devstack.waf cannot emulate text transformations {transforms}")
    return str(match["SearchString"]), "LOWERCASE" in transforms


class Waf:
    """Counts requests per rule and source IP in a sliding window; blocks past the limit."""

    def __init__(self, stack: Stack, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.rules: list[_RateRule] = []
        self.not_emulated: list[str] = []
        self._seen: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        for logical_id, res in stack.of_type("AWS::WAFv2::WebACL").items():
            props = stack.resolve(res["Properties"])
            if "Allow" not in props["DefaultAction"]:
                raise ValueError(f"{logical_id}: devstack.waf emulates only a default Allow")
            bodies = props.get("CustomResponseBodies", {})
            for rule in props.get("Rules", []):
                managed = rule["Statement"].get("ManagedRuleGroupStatement")
                if managed is not None and managed.get("VendorName") == "AWS":
                    self.not_emulated.append(f"{rule['Name']} ({managed['Name']})")
                    continue
                rate = rule["Statement"].get("RateBasedStatement")
                if rate is None or rate.get("AggregateKeyType") != "IP" or set(rule["Action"]) != {"Block"}:
                    raise ValueError(f"{logical_id}: devstack.waf cannot emulate rule {rule['Name']}")
                custom = rule["Action"]["Block"].get("CustomResponse", {})
                body = bodies.get(custom.get("CustomResponseBodyKey", ""), {}).get("Content", "")
                headers = {h["Name"]: h["Value"] for h in custom.get("ResponseHeaders", [])}
                headers["Content-Type"] = "application/json" if body.startswith("{") else "text/plain"
                prefix, lower = _scope(rate.get("ScopeDownStatement"))
                self.rules.append(
                    _RateRule(
                        rule["Name"],
                        int(rule["Priority"]),
                        int(rate["Limit"]),
                        float(rate.get("EvaluationWindowSec", 300)),
                        prefix,
                        lower,
                        Blocked(int(custom.get("ResponseCode", 403)), headers, body.encode()),
                    )
                )
        self.rules.sort(key=lambda r: r.priority)

    def check(self, source_ip: str, path: str) -> Blocked | None:
        """Count this request against every rule that applies; the first rule over its limit blocks."""
        now = self.clock()
        blocked: Blocked | None = None
        with self._lock:
            for rule in self.rules:
                subject = path.lower() if rule.lowercase else path
                if rule.scope_prefix is not None and not subject.startswith(rule.scope_prefix):
                    continue
                seen = self._seen[(rule.name, source_ip)]
                while seen and seen[0] <= now - rule.window:
                    seen.popleft()
                seen.append(now)
                if blocked is None and len(seen) > rule.limit:
                    blocked = rule.response
        return blocked
