"""SES's event publishing, locally (§Local, §Mail delivery). moto accepts email but never publishes
events (its SESv2 event destinations are not implemented), so for every email SES (moto) accepted
this emits what SES would: the event publishing JSON (``eventType``, ``mail``, ``delivery`` /
``bounce`` / ``complaint``) in EventBridge's envelope — the destination type the template declares —
to the function whose ``EventBridgeRule`` pattern matches it, as EventBridge would.

Outcomes follow SES's mailbox simulator: ``bounce@simulator.amazonses.com`` and any address whose
local part ends in ``+bounce`` bounce permanently; ``complaint@…`` and ``+complaint`` are delivered,
then complained about; ``suppressionlist@…`` bounces as on the account's suppression list;
everything else is delivered. ``GET /_local/mail-events`` lists what was emitted.
"""

from __future__ import annotations

import email
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from devstack.cfn import LOCAL_ACCOUNT, Stack
from devstack.runtime import Functions

SIMULATOR = "simulator.amazonses.com"
DETAIL_TYPE = {
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Reject": "Email Rejected",
    "DeliveryDelay": "Email Delivery Delayed",
}


def outcome(address: str) -> str:
    """What SES's mailbox simulator does with an address: delivery | bounce | complaint | suppressed."""
    local, _, domain = address.lower().partition("@")
    if (domain == SIMULATOR and local == "bounce") or local.endswith("+bounce"):
        return "bounce"
    if (domain == SIMULATOR and local == "complaint") or local.endswith("+complaint"):
        return "complaint"
    if domain == SIMULATOR and local == "suppressionlist":
        return "suppressed"
    return "delivery"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ses_events(
    message_id: str, source: str, to: str, subject: str, config_set: str, region: str
) -> list[dict[str, Any]]:
    """The events SES publishes for one email to one recipient, in its event publishing format."""
    sent = _now()
    mail = {
        "timestamp": sent,
        "source": source,
        "sourceArn": f"arn:aws:ses:{region}:{LOCAL_ACCOUNT}:identity/{source.rpartition('@')[2] or source}",
        "sendingAccountId": LOCAL_ACCOUNT,
        "messageId": message_id,
        "destination": [to],
        "headersTruncated": False,
        "commonHeaders": {"from": [source], "to": [to], "subject": subject},
        "tags": {
            "ses:configuration-set": [config_set],
            "ses:source-ip": ["127.0.0.1"],
            "ses:from-domain": [source.rpartition("@")[2]],
            "ses:caller-identity": ["wabaguard-local"],
        },
    }
    what = outcome(to)
    delivery = {
        "eventType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": _now(),
            "processingTimeMillis": 546,
            "recipients": [to],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }
    if what == "delivery":
        return [delivery]
    if what == "complaint":
        complaint = {
            "eventType": "Complaint",
            "mail": mail,
            "complaint": {
                "feedbackId": f"{uuid.uuid4().hex}-000000",
                "complaintSubType": None,
                "complainedRecipients": [{"emailAddress": to}],
                "timestamp": _now(),
                "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                "complaintFeedbackType": "abuse",
                "arrivalDate": sent,
            },
        }
        return [delivery, complaint]
    suppressed = what == "suppressed"
    bounce = {
        "eventType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "OnAccountSuppressionList" if suppressed else "General",
            "bouncedRecipients": [
                {
                    "emailAddress": to,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": (
                        "Amazon SES did not send the message to this address because it is on the suppression list "
                        "for your account."
                        if suppressed
                        else "smtp; 550 5.1.1 user unknown"
                    ),
                }
            ],
            "timestamp": _now(),
            "feedbackId": f"{uuid.uuid4().hex}-000000",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
    }
    return [bounce]


def envelope(event: dict[str, Any], region: str, config_set: str) -> dict[str, Any]:
    """An SES event as EventBridge delivers it to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE[event["eventType"]],
        "source": "aws.ses",
        "account": LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:ses:{region}:{LOCAL_ACCOUNT}:configuration-set/{config_set}"],
        "detail": event,
    }


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the patterns the template uses: exact values in lists, nested."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(k in event and matches(v, event[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        values = event if isinstance(event, list) else [event]
        return any(v in pattern for v in values)
    return bool(pattern == event)


class MailEvents:
    """Emits SES's events for every email moto accepted, once each (``pump``)."""

    def __init__(self, stack: Stack, functions: Functions) -> None:
        self.stack = stack
        self.functions = functions
        self.region = stack.region
        self.config_set = str(stack.environment().get("SES_CONFIGURATION_SET") or "wabaguard")
        self.targets: list[tuple[str, Any]] = []
        for logical_id, spec in functions.specs.items():
            for event in spec.events.values():
                if event["Type"] == "EventBridgeRule":
                    self.targets.append((logical_id, stack.resolve(event["Properties"]["Pattern"])))
        self.done: set[str] = set()
        self.emitted: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def pump(self) -> bool:
        """Publish the events of the emails sent since the last pump; True when there were any."""
        from moto.ses.models import ses_backends

        backend = ses_backends[LOCAL_ACCOUNT][self.region]
        with self.lock:
            new = [m for m in list(backend.sent_messages) if m.id not in self.done]
            self.done.update(m.id for m in new)
        for message in new:
            source = str(getattr(message, "source", "") or "")
            destinations = getattr(message, "destinations", None)
            listed = (
                [a for v in destinations.values() for a in v] if isinstance(destinations, dict) else destinations or []
            )
            # moto lists a raw email's recipient once per place it read it (the call's Destinations
            # and the To header): SES publishes one event per recipient, so each counts once
            to_list = list(dict.fromkeys(str(a) for a in listed))
            raw = getattr(message, "raw_data", None)
            subject = str(email.message_from_string(raw).get("Subject", "")) if raw else str(message.subject)
            for to in to_list:
                for event in ses_events(message.id, source, str(to), subject, self.config_set, self.region):
                    wrapped = envelope(event, self.region, self.config_set)
                    with self.lock:
                        self.emitted.append(wrapped)
                    for logical_id, pattern in self.targets:
                        if matches(pattern, wrapped):
                            self.functions.invoke(logical_id, wrapped)
        return bool(new)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.emitted)
