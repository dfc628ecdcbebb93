"""Approved changes to Meta's Graph API (§Platform): at once from the Accounts stream, and every
minute for the changes whose retry is due. Every decision is in ``wabaguard.whatsapp.changes``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.whatsapp import changes, graph

logger, metrics = observability.logger(), Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_run = changes.Summary()


def _record(record: DynamoDBRecord) -> None:
    keys = record.dynamodb.keys if record.dynamodb else {}
    _run.add(changes.apply(str(keys["pk"]), str(keys["sk"]), graph.from_environment))


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
        out = process_partial_response(event=event, record_handler=_record, processor=processor, context=context)
        _metrics(_run)
        return dict(out)
    summary = changes.run_due(
        graph.from_environment, budget_s=max(5.0, context.get_remaining_time_in_millis() / 1000 - 15)
    )
    _metrics(summary)
    return {"applied": summary.applied, "failed": summary.failed, "retried": summary.retried, "waited": summary.waited}
