"""Partner changes whose cooling-off ended (§Partner change): submitted, expired or held, every
minute, each submission announced on EventBridge. Every decision is in ``wabaguard.partner_change``."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability, partner_change

logger, metrics = observability.logger(), Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = partner_change.run_due(budget_s=max(5.0, context.get_remaining_time_in_millis() / 1000 - 15))
    metrics.add_metric(name="PartnerChangesSubmitted", unit=MetricUnit.Count, value=summary.submitted)
    metrics.add_metric(name="PartnerChangesExpired", unit=MetricUnit.Count, value=summary.expired)
    metrics.add_metric(name="PartnerChangesHeld", unit=MetricUnit.Count, value=summary.held)
    metrics.add_metric(name="PartnerChangeEventsSent", unit=MetricUnit.Count, value=summary.announced)
    metrics.add_metric(name="PartnerChangeEventsFailed", unit=MetricUnit.Count, value=summary.announce_failed)
    logger.info("partner changes", extra={"submitted": summary.submitted, "expired": summary.expired})
    return {
        "submitted": summary.submitted,
        "expired": summary.expired,
        "held": summary.held,
        "announced": summary.announced,
        "announce_failed": summary.announce_failed,
    }


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
