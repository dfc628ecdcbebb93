"""What the deployment costs every month whatever the traffic (issue #26): read from the template
and the functions' code, so that a new alarm, secret, rule or metric shows up in the bill.

The per-action cost (``bench.cost``) is what grows with key actions; these are the charges that do
not: the web ACL and its rules, secrets, KMS keys, alarms, the dashboard, and the custom metrics the
functions publish (CloudWatch bills every metric name × dimension values it receives in a month).
Every resource type of the template is either priced here or named in ``NO_CHARGE_AT_REST`` with
the reason, so a resource type nobody priced fails ``tests/unit/test_bench_fixed.py``.
"""

from __future__ import annotations

import ast
import math
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Resource types with no monthly charge of their own; what they cost is per use, counted per action.
NO_CHARGE_AT_REST = {
    "AWS::Serverless::Function": "per request and GB-second (per action, and the schedules)",
    "AWS::Serverless::LayerVersion": "code storage is free up to 75 GB",
    "AWS::Serverless::Api": "per request (per action)",
    "AWS::ApiGateway::Account": "the account's CloudWatch role setting",
    "AWS::DynamoDB::Table": "on demand: per request unit and stored GB (per action)",
    "AWS::Logs::LogGroup": "per GB ingested and stored (per action)",
    "AWS::SQS::Queue": "per request; the dead-letter queues only take failures",
    "AWS::SNS::Topic": "per publish; ops alarms, a few a month",
    "AWS::SES::EmailIdentity": "per email (per action)",
    "AWS::SES::ConfigurationSet": "per email (per action)",
    "AWS::SES::ConfigurationSetEventDestination": "event publishing has no charge of its own",
    "AWS::IAM::Role": "no charge",
    "AWS::WAFv2::WebACLAssociation": "no charge; the web ACL is priced",
}


def fixed_per_month(resources: dict[str, Any], prices: dict[str, float], series: dict[str, int]) -> dict[str, Any]:
    """Each monthly charge in dollars, with what it counted."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources.values():
        by_type.setdefault(res["Type"], []).append(res.get("Properties", {}))
    acls = by_type.get("AWS::WAFv2::WebACL", [])
    rules = sum(len(acl.get("Rules", [])) for acl in acls)
    alarm_metrics = sum(_alarm_metrics(a) for a in by_type.get("AWS::CloudWatch::Alarm", []))
    counted = {
        "waf_web_acls": len(acls),
        "waf_rules": rules,
        "secrets": len(by_type.get("AWS::SecretsManager::Secret", [])),
        "kms_keys": len(by_type.get("AWS::KMS::Key", [])),
        "alarm_metrics": alarm_metrics,
        "dashboards": len(by_type.get("AWS::CloudWatch::Dashboard", [])),
        "custom_metric_series": sum(series.values()),
    }
    usd = {
        "waf": counted["waf_web_acls"] * prices["waf_web_acl_per_month"] + rules * prices["waf_rule_per_month"],
        "secrets_manager": counted["secrets"] * prices["secret_per_month"],
        "kms": counted["kms_keys"] * prices["kms_key_per_month"],
        "cloudwatch_alarms": alarm_metrics * prices["alarm_metric_per_month"],
        "cloudwatch_dashboard": counted["dashboards"] * prices["dashboard_per_month"],
        "cloudwatch_custom_metrics": counted["custom_metric_series"] * prices["custom_metric_per_month"],
    }
    return {"usd": usd, "counted": counted}


def unpriced_types(resources: dict[str, Any]) -> set[str]:
    """Resource types of the template that neither ``fixed_per_month`` nor ``NO_CHARGE_AT_REST`` covers."""
    priced = {
        "AWS::WAFv2::WebACL",
        "AWS::SecretsManager::Secret",
        "AWS::KMS::Key",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    }
    return {r["Type"] for r in resources.values()} - priced - set(NO_CHARGE_AT_REST)


def _alarm_metrics(alarm: dict[str, Any]) -> int:
    """An alarm is billed per metric it reads: one, or each ``MetricStat`` of a metric-math alarm."""
    queries = alarm.get("Metrics")
    return sum(1 for q in queries if "MetricStat" in q) if queries else 1


# ----------------------------------------------------------------------------- custom metrics
def metric_series(sources: Iterable[Path], dimension_values: dict[str, int]) -> dict[str, int]:
    """Metric name → the series CloudWatch can receive for it: one per combination of the values
    of the dimensions added to it (beyond the constant ``service``). Read from the handlers' code:
    ``metrics.add_metric`` with the ``metrics.add_dimension`` calls of the same function, and
    ``single_metric`` with the ``add_dimension`` calls on its own ``as`` name. A dimension not in
    ``dimension_values`` is a KeyError: its values must be counted before it is billed."""
    series: dict[str, int] = {}
    for source in sources:
        tree = ast.parse(source.read_text())
        for fn in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]:
            names: dict[str, list[str]] = {}  # receiver → metric names
            dims: dict[str, list[str]] = {}  # receiver → dimension names
            for node in _own_nodes(fn):
                if isinstance(node, ast.With):
                    for item in node.items:
                        call, target = item.context_expr, item.optional_vars
                        if _called(call) == "single_metric" and isinstance(target, ast.Name):
                            names.setdefault(target.id, []).append(_keyword(call, "name"))
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    receiver = node.func.value.id if isinstance(node.func.value, ast.Name) else "?"
                    if node.func.attr == "add_metric":
                        names.setdefault(receiver, []).append(_keyword(node, "name"))
                    elif node.func.attr == "add_dimension":
                        dims.setdefault(receiver, []).append(_keyword(node, "name"))
            for receiver, metrics in names.items():
                n = math.prod(dimension_values[d] for d in dims.get(receiver, []))
                for name in metrics:
                    series[name] = max(series.get(name, 0), n)
    return dict(sorted(series.items()))


def _own_nodes(fn: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a function (or module) body, not those of the functions nested in it."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return None


def _keyword(call: ast.Call, name: str) -> str:
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    raise ValueError(f"line {call.lineno}: {name}= must be a literal for its metric to be counted")


def dimension_values() -> dict[str, int]:
    """How many values each dimension the functions use can take, from the code that decides them."""
    from wabaguard.keyactions.registry import KEY_ACTIONS
    from wabaguard.risk.rules import ALL_RULES
    from wabaguard.schemas import ChallengeRequest

    channels = typing.get_args(typing.get_args(ChallengeRequest.model_fields["channel"].annotation)[0])
    return {
        "action": len(KEY_ACTIONS),
        "channel": len(channels),
        "reason": len(authorizer_reasons()),
        "rule": len(ALL_RULES),
        "severity": 3,  # low | medium | high (risk.model.Rule)
    }


def authorizer_reasons() -> set[str]:
    """Every ``error`` the authorizer can deny with: the §OTP reasons raised as ``OtpDenied(code, …)``
    anywhere in the layer, and the gate's own two (``forbidden``, ``otp_required``)."""
    reasons = {"forbidden", "otp_required"}
    for path in (ROOT / "layers" / "shared" / "wabaguard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if _called(node) == "OtpDenied" and isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    reasons.add(first.value)
    return reasons
