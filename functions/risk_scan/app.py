"""EventBridge Scheduler, every 5 minutes: scan new activity, raise explained flags."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability, risk

logger, metrics = observability.logger(), Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(context.aws_request_id)
    result = risk.run_invocation(event)  # a shard's worker, or the schedule's run that fans out
    logger.info("risk scan done", extra={k: v for k, v in result.items() if k != "flags"})
    metrics.add_metric(name="RecordsScanned", unit=MetricUnit.Count, value=result["records_scanned"])
    metrics.add_metric(name="AccountsScanned", unit=MetricUnit.Count, value=result["accounts_scanned"])
    if "duration_ms" in result:
        metrics.add_metric(name="ScanDuration", unit=MetricUnit.Milliseconds, value=result["duration_ms"])
        metrics.add_metric(name="AccountsUnderReview", unit=MetricUnit.Count, value=result["under_review"])
        metrics.add_metric(name="ScanAccountErrors", unit=MetricUnit.Count, value=len(result["failed_accounts"]))
        metrics.add_metric(name="ScanCheckpointAge", unit=MetricUnit.Seconds, value=result["checkpoint_age_s"])
        metrics.add_metric(name="ScanLagSeconds", unit=MetricUnit.Seconds, value=result["lag_s"])
    for flag in result["flags"]:  # one EMF line each: rule and severity are low-cardinality dimensions
        requests = sorted({e["request_id"] for e in flag["evidence"] if e.get("request_id")})
        logger.info(
            "flag raised",
            extra={
                "flag_id": flag["flag_id"],
                "rule": flag["rule"],
                "severity": flag["severity"],
                "api_request_ids": requests,
            },
        )
        with single_metric(name="FlagsRaised", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="rule", value=flag["rule"])
            metric.add_dimension(name="severity", value=flag["severity"])
        if flag["severity"] == "high":
            metrics.add_metric(name="HighFlagsRaised", unit=MetricUnit.Count, value=1)
    return result


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
