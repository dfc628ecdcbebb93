"""ActivityIngestQueue → §Activity records, from producers in any language (§People and ops).

Powertools Batch reports failed messages one by one (SQS redelivers only those); what a message
becomes — written, or refused to the DLQ with its reason — is decided in ``wabaguard.ingest``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import ingest, observability
from wabaguard.config import settings

logger, metrics = observability.logger(), Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    out = ingest.consume(record.body, record.message_id, settings().activity_ingest_dlq_url)
    metrics.add_metric(name="ActivityRecordsAccepted", unit=MetricUnit.Count, value=out.accepted)
    if out.refused:
        metrics.add_metric(name="ActivityRecordsRefused", unit=MetricUnit.Count, value=out.refused)
        logger.warning("activity message refused", extra={"message_id": record.message_id, "reason": out.reason})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
