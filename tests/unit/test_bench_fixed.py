"""The bench's fixed monthly cost (issue #26) is read from the template and the handlers' code, so
a new resource type or metric dimension cannot go unpriced without a test failing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack.cfn import ROOT, Stack

sys.path.insert(0, str(Path(ROOT, "bench")))
import fixed

PRICES = {
    "waf_web_acl_per_month": 5.0,
    "waf_rule_per_month": 1.0,
    "secret_per_month": 0.4,
    "kms_key_per_month": 1.0,
    "alarm_metric_per_month": 0.1,
    "dashboard_per_month": 3.0,
    "custom_metric_per_month": 0.3,
}


def test_every_resource_type_of_the_template_is_priced_or_said_to_cost_nothing_at_rest() -> None:
    assert fixed.unpriced_types(Stack().template["Resources"]) == set()
    assert fixed.unpriced_types({"Q": {"Type": "AWS::Kinesis::Stream"}}) == {"AWS::Kinesis::Stream"}


def test_monthly_charges_count_rules_secrets_keys_and_each_metric_an_alarm_reads() -> None:
    resources = {
        "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{}, {}, {}]}},
        "S1": {"Type": "AWS::SecretsManager::Secret"},
        "S2": {"Type": "AWS::SecretsManager::Secret"},
        "K": {"Type": "AWS::KMS::Key"},
        "Simple": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "X"}},
        "Math": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"Metrics": [{"MetricStat": {}}, {"MetricStat": {}}, {"Expression": "a/b"}]},
        },
        "D": {"Type": "AWS::CloudWatch::Dashboard"},
    }
    out = fixed.fixed_per_month(resources, PRICES, {"A": 1, "B": 4})
    assert out["counted"] == {
        "waf_web_acls": 1,
        "waf_rules": 3,
        "secrets": 2,
        "kms_keys": 1,
        "alarm_metrics": 3,  # one for the simple alarm, the math alarm's two metrics (not its expression)
        "dashboards": 1,
        "custom_metric_series": 5,
    }
    assert out["usd"]["waf"] == 8.0
    assert out["usd"]["cloudwatch_alarms"] == pytest.approx(0.3)
    assert out["usd"]["cloudwatch_custom_metrics"] == pytest.approx(1.5)


def test_a_metric_has_a_series_per_combination_of_its_own_dimensions(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(
        "def handler():\n"
        "    metrics.add_metric(name='Plain', unit='Count', value=1)\n"
        "    with single_metric(name='ByRule', unit='Count', value=1) as metric:\n"
        "        metric.add_dimension(name='rule', value='r')\n"
        "        metric.add_dimension(name='severity', value='s')\n"
        "    metrics.add_metric(name='AlsoPlain', unit='Count', value=1)\n"
        "\n"
        "def key_action():\n"
        "    metrics.add_dimension(name='action', value='a')\n"
        "    metrics.add_metric(name='ByAction', unit='Count', value=1)\n"
        "    def nested():\n"
        "        metrics.add_metric(name='Nested', unit='Count', value=1)\n"
    )
    values = {"rule": 12, "severity": 3, "action": 18}
    assert fixed.metric_series([source], values) == {
        "AlsoPlain": 1,  # the single metric's dimensions are its own, not the function's shared metrics'
        "ByAction": 18,
        "ByRule": 36,
        "Nested": 1,  # counted in its own function, without the enclosing one's dimension
        "Plain": 1,
    }


def test_a_dimension_whose_values_nobody_counted_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(
        "def f():\n    metrics.add_dimension(name='tenant', value=t)\n    metrics.add_metric(name='M', value=1)\n"
    )
    with pytest.raises(KeyError, match="tenant"):
        fixed.metric_series([source], {})


def test_the_handlers_metrics_are_all_counted_with_the_registries_values() -> None:
    values = fixed.dimension_values()
    series = fixed.metric_series(sorted(Path(ROOT, "functions").glob("*/app.py")), values)
    assert series["KeyActions"] == values["action"] > 10
    assert series["AuthorizerDenied"] == len(fixed.authorizer_reasons())
    assert {"otp_required", "otp_invalid", "otp_used", "otp_locked", "forbidden"} <= fixed.authorizer_reasons()
    assert series["ChallengesIssued"] == 3  # email | totp | passkey
    assert series["NotificationsSent"] == 1
