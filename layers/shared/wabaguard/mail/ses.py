"""SES's own events in (the event publishing format: ``eventType``, ``mail``, ``bounce`` /
``complaint`` / ``delivery`` / ``reject`` / ``deliveryDelay``), as EventBridge delivers them
(``source`` aws.ses, ``detail-type`` "Email Bounced", …, the SES event as ``detail``) or bare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# eventType → the delivery status it means (other types — Send, Open, Click — are not asked for)
STATUS = {
    "Delivery": "delivered",
    "DeliveryDelay": "delayed",
    "Bounce": "bounced",
    "Complaint": "complained",
    "Reject": "rejected",
}
DETAIL_TYPES = {
    "Email Delivered": "Delivery",
    "Email Delivery Delayed": "DeliveryDelay",
    "Email Bounced": "Bounce",
    "Email Complaint Received": "Complaint",
    "Email Rejected": "Reject",
}


class NotAnSesEvent(ValueError):
    """The body is not an SES event of the publishing format."""


@dataclass(frozen=True)
class MailEvent:
    """One SES event, read."""

    type: str  # Delivery | DeliveryDelay | Bounce | Complaint | Reject
    status: str  # delivered | delayed | bounced | complained | rejected
    message_id: str
    at: str  # when it happened (the event's own timestamp, else the mail's)
    recipients: tuple[str, ...]
    detail: str  # in words, for the admins: "Permanent bounce (General): 5.1.1 smtp; 550 user unknown"

    @property
    def key(self) -> str:
        """The same event delivered twice has the same key."""
        return f"{self.type}@{self.at}"


def _s(value: Any, limit: int = 300) -> str:
    return str(value)[:limit] if isinstance(value, (str, int, float)) else ""


def read(event: Any) -> MailEvent:
    """One event, from EventBridge's envelope or bare; NotAnSesEvent when it is neither."""
    if not isinstance(event, dict):
        raise NotAnSesEvent("not a JSON object")
    detail = event.get("detail")
    body: dict[str, Any] = detail if isinstance(detail, dict) else event
    kind = body.get("eventType") or body.get("notificationType")
    if not kind and isinstance(event.get("detail-type"), str):
        kind = DETAIL_TYPES.get(event["detail-type"])
    if kind not in STATUS:
        raise NotAnSesEvent(f"eventType {kind!r} is not one wabaguard asks SES for")
    mail = body.get("mail")
    if not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str) or not mail["messageId"]:
        raise NotAnSesEvent("mail.messageId is missing")
    part_name = {"DeliveryDelay": "deliveryDelay"}.get(kind, kind.lower())
    found = body.get(part_name)
    part: dict[str, Any] = found if isinstance(found, dict) else {}
    listed = {
        "Delivery": part.get("recipients"),
        "Bounce": [r.get("emailAddress") for r in part.get("bouncedRecipients") or [] if isinstance(r, dict)],
        "Complaint": [r.get("emailAddress") for r in part.get("complainedRecipients") or [] if isinstance(r, dict)],
        "DeliveryDelay": [r.get("emailAddress") for r in part.get("delayedRecipients") or [] if isinstance(r, dict)],
        "Reject": mail.get("destination"),
    }[kind]
    recipients = tuple(str(r).lower() for r in (listed or mail.get("destination") or []) if isinstance(r, str))
    return MailEvent(
        kind,
        STATUS[kind],
        mail["messageId"][:200],
        _s(part.get("timestamp")) or _s(mail.get("timestamp")),
        recipients,
        _words(kind, part),
    )


def _words(kind: str, part: dict[str, Any]) -> str:
    if kind == "Bounce":
        first = next((r for r in part.get("bouncedRecipients") or [] if isinstance(r, dict)), {})
        smtp = " ".join(x for x in (_s(first.get("status")), _s(first.get("diagnosticCode"))) if x)
        words = f"{_s(part.get('bounceType')) or 'Undetermined'} bounce ({_s(part.get('bounceSubType')) or 'General'})"
        return f"{words}: {smtp}" if smtp else words
    if kind == "Complaint":
        return f"marked as spam ({_s(part.get('complaintFeedbackType')) or 'no feedback type'})"
    if kind == "Reject":
        return f"rejected by SES ({_s(part.get('reason')) or 'no reason given'})"
    if kind == "DeliveryDelay":
        return f"delayed ({_s(part.get('delayType')) or 'no reason given'})"
    return _s(part.get("smtpResponse")) or "delivered"
