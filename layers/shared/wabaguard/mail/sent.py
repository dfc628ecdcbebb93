"""What wabaguard sent: one ``MailDelivery`` per email SES accepted, keyed by SES's message id, so
SES's events can be matched to what the email was (a code, a notice, an invite) and whom it was for."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from wabaguard import clock
from wabaguard.models import MailDelivery, iso, mail_pk

KEPT = timedelta(days=30)  # SES reports within days; a complaint may come weeks later, rarely
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class About:
    """What an email is: its kind and what it belongs to."""

    kind: str  # code | approval | notice | invite | replay | lockout | undeliverable
    account_id: str | None = None
    user_id: str | None = None
    change_id: str | None = None
    challenge_id: str | None = None
    item_pk: str | None = None  # the notified Accounts item (a Partner change counts its delivered notices)
    item_sk: str | None = None


def record(message_id: str, to: str, subject: str, about: About, now: datetime | None = None) -> None:
    """Keep the email SES accepted. The email is out already: a record that cannot be written is
    logged and its events are later counted as unknown — failing here would send it again."""
    now = now or clock.utcnow()
    item = MailDelivery(
        mail_pk(message_id),
        message_id=message_id,
        kind=about.kind,
        recipient=to,
        account_id=about.account_id,
        user_id=about.user_id,
        change_id=about.change_id,
        challenge_id=about.challenge_id,
        item_pk=about.item_pk,
        item_sk=about.item_sk,
        subject=subject[:200],
        status="sent",
        sent_at=iso(now),
        ttl=now + KEPT,
    )
    try:
        item.save()
    except Exception:  # noqa: BLE001 - see above: never fail a send that happened
        log.warning("delivery record not written", extra={"message_id": message_id, "kind": about.kind})
