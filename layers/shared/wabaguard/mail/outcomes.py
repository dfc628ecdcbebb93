"""What an SES event means for what wabaguard sent (§Mail delivery).

A delivery moves forward only — sent → delayed → delivered, or a failure — so events that arrive
out of order (a ``Delivery`` after a ``DeliveryDelay``, or before it) end in the same place, and a
repeated event changes nothing (``seen``, under a condition). The first failure of a security email
marks the recipient's ``email_status``, tells the account's other admins and the Partner's admins
(a ``MailFailure``, once per email) and keeps the unreachable-users flag open; a delivery clears the
status and counts toward a Partner change's delivered notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from wabaguard import clock
from wabaguard.errors import Conflict
from wabaguard.mail.ses import MailEvent
from wabaguard.models import (
    MailDelivery,
    MailFailure,
    OpenFlag,
    PartnerChangeRequest,
    User,
    account_pk,
    condition_failed,
    iso,
    mail_failure_key,
    mail_pk,
    open_flag_sk,
    system_change,
)
from wabaguard.people.access import account_or_none, active_users
from wabaguard.risk import flags

RANK = {"sent": 0, "delayed": 1, "delivered": 2, "bounced": 3, "complained": 3, "rejected": 3}
FAILED = frozenset({"bounced", "complained", "rejected"})
EMAIL_STATUS = {"bounced": "bouncing", "rejected": "bouncing", "complained": "complained"}
RULE = "unreachable_users"
BY = "wabaguard mail delivery"
WRITE_ATTEMPTS = 5


@dataclass
class Outcome:
    """What one event came to (the handler turns it into metrics)."""

    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    rejected: int = 0
    delayed: int = 0
    unknown: int = 0  # no email of ours has this message id
    duplicates: int = 0
    told: int = 0  # failures the admins are told of

    def add(self, other: Outcome) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def next_status(current: str, event: str) -> str:
    """Forward only: an event that means less than where the delivery is changes nothing."""
    if current in FAILED:
        return current
    return event if RANK[event] > RANK.get(current, 0) else current


def apply(event: MailEvent, now: datetime | None = None) -> Outcome:
    """Apply one SES event to the email it is about."""
    now = now or clock.utcnow()
    out = Outcome()
    for _ in range(WRITE_ATTEMPTS):
        try:
            delivery = MailDelivery.get(mail_pk(event.message_id), consistent_read=True)
        except MailDelivery.DoesNotExist:
            out.unknown = 1
            return out
        if event.key in (delivery.seen or set()):
            out.duplicates = 1
            return out
        before = delivery.status
        after = next_status(before, event.status)
        actions: list[Any] = [
            MailDelivery.seen.add({event.key}),
            MailDelivery.events.set([*(delivery.events or [])[-19:], {"type": event.type, "at": event.at}]),
            MailDelivery.updated_at.set(iso(now)),
        ]
        if after != before:
            actions.append(MailDelivery.status.set(after))
            if after in FAILED:
                actions.append(MailDelivery.detail.set(event.detail[:500]))
        try:
            delivery.update(
                actions=actions,
                condition=(MailDelivery.status == before)
                & (MailDelivery.seen.does_not_exist() | ~MailDelivery.seen.contains(event.key)),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                continue  # another event moved it meanwhile: read again
            raise
        setattr(out, event.status, 1)
        if after != before and after in FAILED:
            out.told = _failed(delivery, after, event, now)
        elif after == "delivered" and before != "delivered":
            _delivered(delivery, now)
        return out
    raise RuntimeError(f"delivery {event.message_id} kept changing under {WRITE_ATTEMPTS} attempts")


# ------------------------------------------------------------------ whose address
def _people(delivery: MailDelivery) -> list[User]:
    """The users this address belongs to: of the account the email is about, and of its Partner
    (whose admins hear of their Clients)."""
    account = account_or_none(delivery.account_id)
    if account is None:
        return []
    accounts = [account.account_id, *([account.partner_id] if account.partner_id else [])]
    address = delivery.recipient.lower()
    return [u for a in accounts for u in active_users(a) if u.email.lower() == address]


def _set_status(user: User, status: str, detail: str | None, now: datetime) -> None:
    actions: list[Any] = [User.email_status.set(status), User.email_status_at.set(iso(now))]
    actions.append(User.email_status_detail.set(detail[:300]) if detail else User.email_status_detail.remove())
    try:
        user.update(actions=actions, condition=User.email == user.email)  # the address did not change meanwhile
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def _delivered(delivery: MailDelivery, now: datetime) -> None:
    for user in _people(delivery):
        if user.email_status and user.email_status != "ok":
            _set_status(user, "ok", None, now)
            _close_when_everyone_is_reachable(user.account_id)
    if delivery.item_sk and delivery.item_pk and delivery.item_sk.startswith("PCR#"):
        try:  # one more person who has the Partner change's notice (the submission waits for one)
            PartnerChangeRequest(delivery.item_pk, delivery.item_sk).update(
                actions=[PartnerChangeRequest.delivered_to.add({delivery.recipient.lower()})],
                condition=PartnerChangeRequest.pk.exists(),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise


def _failed(delivery: MailDelivery, status: str, event: MailEvent, now: datetime) -> int:
    """A security email did not arrive: whose address, who is told, the hygiene flag."""
    people = _people(delivery)
    for user in people:
        _set_status(user, EMAIL_STATUS[status], event.detail, now)
    if delivery.kind == "undeliverable" or not delivery.account_id:
        return 0  # the notice of a failure failed too: the status says so, nobody is told again
    if not people:
        return 0  # no user has this address any more (replaced, or removed): nothing to repair, nobody to tell
    told = 0
    failure = MailFailure(
        *mail_failure_key(delivery.account_id, delivery.message_id),
        message_id=delivery.message_id,
        account_id=delivery.account_id,
        recipient=delivery.recipient,
        kind=delivery.kind,
        status=status,
        subject=delivery.subject,
        change_id=delivery.change_id,
        detail=event.detail[:500],
        at=iso(now),
        last_change=system_change("notice_undeliverable", now, BY, delivery.message_id),
    )
    try:
        failure.save(condition=MailFailure.pk.does_not_exist())
        told = 1
    except PutError as exc:
        if not condition_failed(exc):
            raise
    for account_id in {u.account_id for u in people} or {delivery.account_id}:
        _flag_unreachable(account_id, now)  # the account the person belongs to (a Partner's admin: the Partner)
    return told


def _close_when_everyone_is_reachable(account_id: str) -> None:
    """The hygiene flag has done its work once security mail reaches everyone again."""
    if unreachable(account_id):
        return
    try:
        marker = OpenFlag.get(account_pk(account_id), open_flag_sk(RULE), consistent_read=True)
    except OpenFlag.DoesNotExist:
        return
    try:
        flags.resolve(marker.flag_id, "confirmed", "security mail reaches every user again", BY)
    except Conflict:
        pass  # resolved meanwhile (ops, or a delivery beside this one)


def unreachable(account_id: str) -> list[User]:
    return [u for u in active_users(account_id) if u.email_status in ("bouncing", "complained")]


def _flag_unreachable(account_id: str, now: datetime) -> None:
    """The hygiene flag (low) naming the users security mail no longer reaches."""
    users = unreachable(account_id)
    if not users:
        return
    account = account_or_none(account_id)
    if account is None:
        return
    names = ", ".join(f"{u.email} ({u.role}, {u.email_status})" for u in users[:20])
    flags.raise_flag(
        account,
        RULE,
        "low",
        f"Security mail no longer reaches {len(users)} user(s) of {account.name}: {names}. They will not hear of "
        "key changes or receive codes by email. An admin should set a working address for each (PUT "
        f"/v1/accounts/{account_id}/users/{{user_id}}/email), or remove people who left.",
        [{"kind": "mail", "at": iso(now), "action": u.email_status, "detail": u.email} for u in users[:20]],
        subject={},
        now=now,
        raised_by=BY,
        quiet=True,  # the admins are told by the failure's own notice
    )
