"""The template's operational promises: dashboard ⇔ metrics, alarms, least privilege, logging."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devstack.cfn import ROOT, Stack

STACK = Stack()
RES = STACK.resources
CODE = [*Path(ROOT, "functions").rglob("*.py"), *Path(ROOT, "layers/shared/wabaguard").rglob("*.py")]


def emitted_metrics() -> set[str]:
    names: set[str] = set()
    for path in CODE:
        text = path.read_text()
        names |= set(re.findall(r"(?:add_metric|single_metric)\(\s*name=\"(\w+)\"", text))
    return names


def dashboard_metrics() -> set[str]:
    body = RES["OpsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names: set[str] = set()
    for widget in json.loads(body)["widgets"]:
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):
                names |= (
                    set(re.findall(r'MetricName=\\?"(\w+)\\?"', metric[0]["expression"]))
                    if "{Wabaguard" in metric[0]["expression"]
                    else set()
                )
            elif metric[0] == "Wabaguard":
                names.add(metric[1])
    return names


def test_every_emitted_metric_is_on_the_dashboard_and_every_custom_metric_there_is_emitted() -> None:
    emitted, shown = emitted_metrics(), dashboard_metrics()
    assert len(emitted) >= 15
    assert emitted == shown, {"not on dashboard": emitted - shown, "never emitted": shown - emitted}


def test_metric_dimensions_stay_low_cardinality() -> None:
    for path in CODE:
        for dim in re.findall(r"add_dimension\(name=\"(\w+)\"", path.read_text()):
            assert dim in {"channel", "action", "reason", "rule", "severity"}, (path, dim)


ALARM_TARGETS = {
    "NotifierFailuresAlarm": "NotificationsFailed",
    "NotifierQueueNotEmptyAlarm": "ApproximateNumberOfMessagesVisible",
    "AuthorizerErrorsAlarm": "Errors",
    "OtpFailureSpikeAlarm": "OtpFailed",
    "HighFlagAlarm": "HighFlagsRaised",
    "SesBounceRateAlarm": "Reputation.BounceRate",
    "SesComplaintRateAlarm": "Reputation.ComplaintRate",
    "Api5xxAlarm": "5XXError",
    "ScanErrorsAlarm": "ScanAccountErrors",
    "ScanStalledAlarm": "ScanCheckpointAge",
    "ScanLagAlarm": "ScanLagSeconds",
    "PlatformFailuresAlarm": "PlatformChangesFailed",
    "PlatformConfigAlarm": "PlatformConfigErrors",
    "SecurityWebhookFailureRateAlarm": "WebhookAttemptsFailed",
}


@pytest.mark.parametrize("alarm,metric", sorted(ALARM_TARGETS.items()))
def test_alarms_notify_the_ops_topic_and_have_a_runbook(alarm: str, metric: str) -> None:
    props = RES[alarm]["Properties"]
    if "Metrics" in props:  # metric math: the metric is one of its inputs
        assert metric in [m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m]
    else:
        assert props["MetricName"] == metric
    assert props["AlarmActions"] == [{"Ref": "OpsTopic"}]
    assert f"`{alarm}`" in Path(ROOT, "README.md").read_text(), "each alarm has a runbook entry in the README"


def _statements() -> list[dict[str, Any]]:
    out = []
    for res in RES.values():
        for policy in res.get("Properties", {}).get("Policies", []) or []:
            if isinstance(policy, dict):
                out.extend(policy.get("Statement", []))
        key_policy = res.get("Properties", {}).get("KeyPolicy")
        if key_policy:
            out.extend(key_policy["Statement"])
    return out


def test_no_wildcard_actions_anywhere() -> None:
    statements = _statements()
    assert len(statements) > 10
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert all("*" not in a for a in actions), st


def test_email_is_sent_only_from_the_verified_sender() -> None:
    ses = [st for st in _statements() if any(str(a).startswith("ses:") for a in st["Action"])]
    assert len(ses) == 4
    for st in ses:
        assert st["Action"] == ["ses:SendRawEmail"]
        assert st["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


def test_api_has_throttling_access_logs_and_no_caching() -> None:
    props = RES["Api"]["Properties"]
    settings = props["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] and settings["ThrottlingBurstLimit"]
    assert settings.get("CachingEnabled") is not True
    assert props["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert props["TracingEnabled"] is False  # URLs would carry report tokens into X-Ray
    assert props["Auth"]["Authorizers"]["OtpAuthorizer"]["Identity"]["ReauthorizeEvery"] == 0


def test_every_checkov_skip_has_a_reason() -> None:
    for name, res in RES.items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, (name, skip)


def test_events_parse_as_powertools_data_classes() -> None:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, DynamoDBStreamEvent
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerRequestEvent,
    )

    events = Path(ROOT, "events")
    authz = APIGatewayAuthorizerRequestEvent(json.loads((events / "authorizer_key_action.json").read_text()))
    assert authz.get_type == "REQUEST" and authz.http_method == "PUT"
    api = APIGatewayProxyEvent(json.loads((events / "api_get_me.json").read_text()))
    assert api.path == "/me" and api.request_context.authorizer.raw_event["user_id"]
    stream = DynamoDBStreamEvent(json.loads((events / "stream_webhook_changed.json").read_text()))
    assert next(stream.records).dynamodb.new_image["last_change"]  # type: ignore[union-attr,index]


def test_traces_never_capture_responses_or_errors_where_secrets_pass() -> None:
    """Review item 2: API keys, user tokens and otpauth URIs are returned by handlers; X-Ray must
    not record them. The environment default says so, and no handler records a trace of its own:
    Lambda's active tracing records each invocation, while Powertools' Tracer would import the
    X-Ray SDK, which creates two botocore clients at import (issue #26: ~300 ms of every cold start)."""
    env = STACK.template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    assert STACK.template["Globals"]["Function"]["Tracing"] == "Active"
    handlers = list(Path(ROOT, "functions").glob("*/app.py"))
    assert len(handlers) >= 5
    for path in handlers:
        text = path.read_text()
        assert "Tracer" not in text and "aws_xray_sdk" not in text, path
        assert "put_metadata" not in text and "put_annotation" not in text, path
    layer = "".join(p.read_text() for p in Path(ROOT, "layers/shared/wabaguard").rglob("*.py"))
    assert "put_metadata" not in layer and "capture_method" not in layer
