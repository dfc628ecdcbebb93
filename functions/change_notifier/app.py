"""Accounts table stream → one email per recipient per change, exactly once; and the change as a
security event for the endpoints that hear of it (§Security webhooks).

Failed records are reported individually (``wabaguard.batches``; the rest are checkpointed); a
progress item per stream record (``wabaguard.notices.progress``) makes a redelivered record send
only the emails that did not go out before, and keeps two invocations off one record.
"""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

import contextvars
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import batches, clock, lazy, observability
from wabaguard.errors import NotFound
from wabaguard.mail import sent
from wabaguard.models import PartnerChangeRequest
from wabaguard.notices import mailer, notify, progress, report
from wabaguard.people import invites
from wabaguard.people.access import load_account
from wabaguard.webhooks import deliveries

if TYPE_CHECKING:
    from wabaguard import partner_change
else:  # only a Partner change request's notice needs it: imported then, not at cold start
    partner_change = lazy.module("wabaguard.partner_change")

logger, metrics = observability.logger(), Metrics()
# How long this invocation may hold a record: until Lambda would stop it (set per invocation).
_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=0.0)
CLAIM_FLOOR_SECONDS = 60  # never less, should the context not say


def send(to: str, change: notify.Change, item: Any, account: Any, links: report.Links) -> str:
    """Send one notice (with its own report link) — or, to the person a change invites, their
    invite; returns SES's message id."""
    invite = invites.mail_for(change.kind, item, account, to)
    if invite is not None:
        return mailer.send(invite, _about("invite", change, item))
    link = links.url_for(to) if notify.gets_report_link(account, change, to) else None
    cancel = None
    if change.kind == "partner_change_requested" and isinstance(item, PartnerChangeRequest):
        cancel = partner_change.cancel_link(item, to)
    kind = "undeliverable" if change.kind == "notice_undeliverable" else "notice"
    return mailer.send(notify.render(to, change, item, link, cancel), _about(kind, change, item))


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
    recipients = notify.recipients(account, change)
    facts = [*change.facts, *notify.actor_facts(new)]
    links = report.Links(change.account_id, change.change_id, change.headline, recipients, facts)
    now = clock.now()
    told = progress.tell_each(  # Busy: another invocation sends these; the record fails, is retried
        record["eventID"],
        recipients,
        lambda to: send(to, change, new, account, links),
        now,
        claim_until=max(_deadline.get(), now + CLAIM_FLOOR_SECONDS),
    )
    if told.sent:
        metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=told.sent)
    if told.failed:
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=told.failed)
    if told.deduplicated:
        metrics.add_metric(name="NotificationsDeduplicated", unit=MetricUnit.Count, value=told.deduplicated)
    logger.info(
        "change notified",
        extra={"change_id": change.change_id, "kind": change.kind, "account_id": account_id, "failures": told.failed},
    )
    if told.failed:
        # Report the record failed: the stream retries it, and the progress item skips who got it.
        raise mailer.MailError(f"{told.failed} notice(s) of change {change.change_id} not sent")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _deadline.set(clock.now() + context.get_remaining_time_in_millis() / 1000)
    return batches.stream(event, record_handler)


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
