"""Every email SES (moto) accepted, oldest first, as ``/_local/outbox`` and the tests read it."""

from __future__ import annotations

import email
import email.policy
from email.utils import parsedate_to_datetime
from typing import Any

from devstack.cfn import LOCAL_ACCOUNT


def _parts(raw: str) -> tuple[str, str]:
    msg = email.message_from_string(raw)
    text, html = "", ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        content = payload.decode(part.get_content_charset() or "utf-8") if isinstance(payload, bytes) else ""
        if ctype == "text/plain" and not text:
            text = content
        elif ctype == "text/html" and not html:
            html = content
    return text, html


def outbox(region: str) -> list[dict[str, Any]]:
    from moto.ses.models import ses_backends

    backend = ses_backends[LOCAL_ACCOUNT][region]
    out = []
    for message in list(backend.sent_messages):
        raw = getattr(message, "raw_data", None)
        if raw is None:
            out.append(
                {
                    "id": message.id,
                    "to": ", ".join(a for v in message.destinations.values() for a in v),
                    "subject": message.subject,
                    "text": message.body,
                    "html": "",
                    "sent_at": None,
                }
            )
            continue
        parsed = email.message_from_string(raw, policy=email.policy.default)
        text, html = _parts(raw)
        date = parsed.get("Date")
        out.append(
            {
                "id": message.id,
                "to": str(parsed.get("To", "")),
                "subject": str(parsed.get("Subject", "")),
                "text": text,
                "html": html,
                "sent_at": parsedate_to_datetime(date).strftime("%Y-%m-%dT%H:%M:%SZ") if date else None,
            }
        )
    return out
