"""EventBridge Scheduler, every 5 minutes: scan new activity, raise explained flags."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import risk

logger, tracer, metrics = Logger(), Tracer(), Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = risk.run_scan(metrics=metrics)
    logger.info("risk scan done", extra={k: v for k, v in result.items() if k != "flags"})
    return result
