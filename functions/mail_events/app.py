"""SES's own events (Delivery, Bounce, Complaint, Reject, DeliveryDelay) from the configuration set,
through EventBridge: matched to what wabaguard sent (§Mail delivery). Decisions are in
``wabaguard.mail``."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.mail import outcomes, ses

logger, metrics = observability.logger(), Metrics()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        mail_event = ses.read(event)
    except ses.NotAnSesEvent as exc:  # not retried: it can never be read
        metrics.add_metric(name="MailEventsIgnored", unit=MetricUnit.Count, value=1)
        logger.warning("not an SES event", extra={"reason": str(exc), "detail_type": event.get("detail-type")})
        return {"ignored": 1}
    out = outcomes.apply(mail_event)
    metrics.add_metric(name="NoticesDelivered", unit=MetricUnit.Count, value=out.delivered)
    metrics.add_metric(name="NoticesDelayed", unit=MetricUnit.Count, value=out.delayed)
    metrics.add_metric(name="NoticesBounced", unit=MetricUnit.Count, value=out.bounced)
    metrics.add_metric(name="NoticesComplained", unit=MetricUnit.Count, value=out.complained)
    metrics.add_metric(name="NoticesRejected", unit=MetricUnit.Count, value=out.rejected)
    metrics.add_metric(name="NoticesUndeliverableTold", unit=MetricUnit.Count, value=out.told)
    metrics.add_metric(name="MailEventsUnknown", unit=MetricUnit.Count, value=out.unknown)
    metrics.add_metric(name="MailEventsDuplicate", unit=MetricUnit.Count, value=out.duplicates)
    logger.info("mail event", extra={"type": mail_event.type, "message_id": mail_event.message_id, **vars(out)})
    return vars(out)


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
