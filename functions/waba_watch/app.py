"""EventBridge Scheduler, every minute: read the WABAs whose turn has come and tell what changed at
Meta without passing through wabaguard (§WABA watch). Every decision is in ``wabaguard.watch``."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.watch import runner
from wabaguard.whatsapp import graph

logger, metrics = observability.logger(), Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(context.aws_request_id)
    whole = isinstance(event, dict) and event.get("whole_period") is True  # the local stack's tick
    summary = runner.run(
        graph.from_environment,
        budget_s=max(5.0, context.get_remaining_time_in_millis() / 1000 - 15),
        whole_period=whole,
    )
    metrics.add_metric(name="WabasWatched", unit=MetricUnit.Count, value=summary.watched)
    metrics.add_metric(name="WabaDriftsFound", unit=MetricUnit.Count, value=summary.drifts)
    metrics.add_metric(name="WabaWatchGraphErrors", unit=MetricUnit.Count, value=summary.graph_errors)
    metrics.add_metric(name="WabaWatchGraphCalls", unit=MetricUnit.Count, value=summary.calls)
    metrics.add_metric(name="WabaWatchDeferred", unit=MetricUnit.Count, value=summary.deferred)
    # the token problem of §Platform: the same alarm as the changes that wait for it
    metrics.add_metric(name="PlatformConfigErrors", unit=MetricUnit.Count, value=summary.config_errors)
    out = {k: v for k, v in vars(summary).items() if k != "outcomes"}
    logger.info("waba watch", extra=out)
    return out


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
