"""Builds and sends wabaguard's emails: one recipient per message, text + HTML, user text escaped.

Sending uses SES ``SendRawEmail`` with a multipart/alternative MIME message, so the plain-text
and HTML parts both reach the recipient (and the local outbox).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from wabaguard.aws import client
from wabaguard.config import settings


@dataclass(frozen=True)
class Email:
    """A rendered email. ``lines`` are plain text; ``html`` is built from escaped pieces only."""

    to: str
    subject: str
    text: str
    html: str


class MailError(RuntimeError):
    """SES refused or failed to send; the caller decides whether to retry or report."""


def render(
    to: str,
    subject: str,
    paragraphs: list[str],
    facts: list[tuple[str, str]] | None = None,
    footer: list[str] | None = None,
) -> Email:
    """Render an email from plain-text pieces. Every piece is escaped in the HTML part."""
    facts = facts or []
    footer = footer or []
    text_parts = [*paragraphs]
    if facts:
        text_parts.append("\n".join(f"{label}: {value}" for label, value in facts))
    text_parts.extend(footer)
    text = "\n\n".join(text_parts) + "\n"
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'
        for label, value in facts
    )
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if rows:
        body += f"<table>{rows}</table>"
    body += "".join(f'<p style="color:#555">{html.escape(p)}</p>' for p in footer)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{body}</body></html>"
    )
    return Email(to=to, subject=subject, text=text, html=page)


def send(mail: Email) -> str:
    """Send one email; returns the SES message id. Raises MailError on any SES failure."""
    msg = EmailMessage()
    msg["From"] = settings().sender_email
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings().sender_email.partition("@")[2] or None)
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    try:
        out = client("ses").send_raw_email(
            Source=settings().sender_email,
            Destinations=[mail.to],
            RawMessage={"Data": msg.as_bytes()},
        )
    except Exception as exc:  # botocore ClientError, throttling, endpoint errors alike
        raise MailError(f"SES did not accept the email: {type(exc).__name__}") from exc
    return str(out["MessageId"])
