"""ActivityIngestQueue → §Activity records, from producers in any language (§People and ops).

Failed messages are reported one by one (``wabaguard.batches``; SQS redelivers only those); what a
message becomes — written, or refused to the DLQ with its reason — is decided in ``wabaguard.ingest``.
"""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import batches, ingest, observability
from wabaguard.config import settings

logger, metrics = observability.logger(), Metrics()


def record_handler(record: dict[str, Any]) -> None:
    out = ingest.consume(record["body"], record["messageId"], settings().activity_ingest_dlq_url)
    metrics.add_metric(name="ActivityRecordsAccepted", unit=MetricUnit.Count, value=out.accepted)
    if out.refused:
        metrics.add_metric(name="ActivityRecordsRefused", unit=MetricUnit.Count, value=out.refused)
        logger.warning("activity message refused", extra={"message_id": record["messageId"], "reason": out.reason})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return batches.sqs(event, record_handler)


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
