"""Approved changes to Meta's Graph API (§Platform): at once from the Accounts stream, and every
minute for the changes whose retry is due. Every decision is in ``wabaguard.whatsapp.changes``."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import batches, observability
from wabaguard.whatsapp import changes, graph

logger, metrics = observability.logger(), Metrics()
_run = changes.Summary()


def _record(record: dict[str, Any]) -> None:
    keys = record["dynamodb"]["Keys"]  # the stream's key attributes, as DynamoDB types them
    _run.add(changes.apply(keys["pk"]["S"], keys["sk"]["S"], graph.from_environment))


def _metrics(summary: changes.Summary) -> None:
    metrics.add_metric(name="PlatformChangesApplied", unit=MetricUnit.Count, value=summary.applied)
    metrics.add_metric(name="PlatformChangesFailed", unit=MetricUnit.Count, value=summary.failed)
    metrics.add_metric(name="PlatformRetries", unit=MetricUnit.Count, value=summary.retried)
    metrics.add_metric(name="PlatformConfigErrors", unit=MetricUnit.Count, value=summary.config_errors)
    logger.info("platform changes", extra={"outcomes": summary.outcomes, "waited": summary.waited})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _run
    _run = changes.Summary()
    if isinstance(event, dict) and "Records" in event:
        out = batches.stream(event, _record)
        _metrics(_run)
        return out
    summary = changes.run_due(
        graph.from_environment, budget_s=max(5.0, context.get_remaining_time_in_millis() / 1000 - 15)
    )
    _metrics(summary)
    return {"applied": summary.applied, "failed": summary.failed, "retried": summary.retried, "waited": summary.waited}


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
