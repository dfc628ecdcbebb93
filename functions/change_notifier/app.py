"""Accounts table stream → one email per recipient per change, exactly once; and the change as a
security event for the endpoints that hear of it (§Security webhooks).

Failed records are reported individually (``wabaguard.batches``; the rest are checkpointed);
Powertools Idempotency, keyed on the stream record's event id and the recipient, makes a redelivered record
send only the emails that did not go out before.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

import wabaguard  # noqa: F401  first: its __init__ keeps botocore off pyOpenSSL, which Idempotency's boto3 would load

# isort: split
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import batches, clock, lazy, observability
from wabaguard.config import settings
from wabaguard.errors import NotFound
from wabaguard.mail import sent
from wabaguard.models import PartnerChangeRequest
from wabaguard.notices import mailer, notify, report
from wabaguard.notices.once import DeferredDynamoDBPersistenceLayer
from wabaguard.people import invites
from wabaguard.people.access import load_account
from wabaguard.webhooks import deliveries

if TYPE_CHECKING:
    from wabaguard import partner_change
else:  # only a Partner change request's notice needs it: imported then, not at cold start
    partner_change = lazy.module("wabaguard.partner_change")

logger, metrics = observability.logger(), Metrics()
persistence = DeferredDynamoDBPersistenceLayer(table_name=settings().idempotency_table)
idempotency = IdempotencyConfig(event_key_jmespath="[event_id, recipient]", expires_after_seconds=7 * 24 * 3600)
_sent_now: contextvars.ContextVar[bool] = contextvars.ContextVar("sent_now", default=False)


@idempotent_function(data_keyword_argument="job", config=idempotency, persistence_store=persistence)
def send_once(
    job: dict[str, Any], change: notify.Change, item: Any, account: Any, links: report.Links
) -> dict[str, Any]:
    """Send one notice (with its own report link) — or, to the person a change invites, their
    invite; a redelivery returns the stored result unsent."""
    invite = invites.mail_for(change.kind, item, account, job["recipient"])
    if invite is not None:
        message_id = mailer.send(invite, _about("invite", change, item))
        _sent_now.set(True)
        return {"message_id": message_id}
    link = links.url_for(job["recipient"]) if notify.gets_report_link(account, change, job["recipient"]) else None
    cancel = None
    if change.kind == "partner_change_requested" and isinstance(item, PartnerChangeRequest):
        cancel = partner_change.cancel_link(item, job["recipient"])
    kind = "undeliverable" if change.kind == "notice_undeliverable" else "notice"
    message_id = mailer.send(notify.render(job["recipient"], change, item, link, cancel), _about(kind, change, item))
    _sent_now.set(True)
    return {"message_id": message_id}


def _about(kind: str, change: notify.Change, item: Any) -> sent.About:
    """What a notice is, for its delivery (§Mail delivery): SES's events find it by message id."""
    return sent.About(kind, account_id=change.account_id, change_id=change.change_id, item_pk=item.pk, item_sk=item.sk)


def record_handler(record: dict[str, Any]) -> None:
    """One record; a record about something that no longer exists (an account deleted since) is
    skipped and counted: retrying it could never succeed and would hold up the shard."""
    try:
        _notify(record)
    except NotFound as gone:
        metrics.add_metric(name="StreamRecordsSkipped", unit=MetricUnit.Count, value=1)
        logger.warning("stream record skipped", extra={"event_id": record["eventID"], "reason": str(gone)})


def _notify(record: dict[str, Any]) -> None:
    raw = record["dynamodb"]
    old = notify.load_image(raw.get("OldImage"))
    new = notify.load_image(raw.get("NewImage"))
    account_id = getattr(new, "account_id", None)
    if new is None or not account_id:
        return
    account = load_account(account_id)
    change = notify.describe(old, new, account)
    if change is None:
        return
    if new.last_change is not None and new.last_change.request_id:
        logger.set_correlation_id(new.last_change.request_id)  # the API request that made the change
    # The same change as a security event to the endpoints that hear of it (idempotent per
    # change and URL, so a retried record addresses nothing twice); attempted at once.
    deliveries.kick(deliveries.enqueue(old, new, account, change.headline, clock.utcnow()))
    failures = 0
    recipients = notify.recipients(account, change)
    facts = [*change.facts, *notify.actor_facts(new)]
    links = report.Links(change.account_id, change.change_id, change.headline, recipients, facts)
    for to in recipients:
        _sent_now.set(False)
        try:
            send_once(
                job={"event_id": record["eventID"], "recipient": to, "change_id": change.change_id},
                change=change,
                item=new,
                account=account,
                links=links,
            )
        except mailer.MailError:
            failures += 1
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
            continue
        if _sent_now.get():
            metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="NotificationsDeduplicated", unit=MetricUnit.Count, value=1)
    logger.info(
        "change notified",
        extra={"change_id": change.change_id, "kind": change.kind, "account_id": account_id, "failures": failures},
    )
    if failures:
        # Report the record failed: the stream retries it, and idempotency skips who got it.
        raise mailer.MailError(f"{failures} notice(s) of change {change.change_id} not sent")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return batches.stream(event, record_handler)
