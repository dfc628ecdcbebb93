"""Security events to customers' endpoints (§Security webhooks): the deliveries the notifier just
addressed (it invokes this function with their keys), and every minute those whose retry is due.
Every decision is in ``wabaguard.webhooks.deliveries``."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.webhooks import deliveries

logger, metrics = observability.logger(), Metrics()


def _metrics(summary: deliveries.Summary) -> None:
    metrics.add_metric(name="WebhookDeliveries", unit=MetricUnit.Count, value=summary.delivered)
    metrics.add_metric(name="WebhookAttemptsFailed", unit=MetricUnit.Count, value=summary.failed_attempts)
    metrics.add_metric(name="WebhookDeliveriesAbandoned", unit=MetricUnit.Count, value=summary.gave_up)
    metrics.add_metric(name="WebhookEndpointsDisabled", unit=MetricUnit.Count, value=summary.disabled)
    logger.info("security event deliveries", extra={"outcomes": summary.outcomes, "skipped": summary.skipped})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    keys = [(str(k[0]), str(k[1])) for k in (event or {}).get("deliveries", []) if isinstance(k, list) and len(k) == 2]
    if keys:
        summary = deliveries.attempt_all(keys)
    else:
        summary = deliveries.run_due(budget_s=max(5.0, context.get_remaining_time_in_millis() / 1000 - 15))
    _metrics(summary)
    return {
        "delivered": summary.delivered,
        "failed_attempts": summary.failed_attempts,
        "abandoned": summary.gave_up,
        "disabled": summary.disabled,
    }


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
