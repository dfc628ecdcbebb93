"""Builds and sends wabaguard's emails: one recipient per message, text + HTML, user text escaped.

Sending uses SES ``SendRawEmail`` with a multipart/alternative MIME message, so the plain-text
and HTML parts both reach the recipient (and the local outbox).
"""

from __future__ import annotations

import email.policy
import html
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from wabaguard.aws import client
from wabaguard.config import settings

_POLICY = email.policy.SMTP.clone(max_line_length=998)  # no folding quirks in subjects


@dataclass(frozen=True)
class Email:
    """A rendered email. ``lines`` are plain text; ``html`` is built from escaped pieces only."""

    to: str
    subject: str
    text: str
    html: str


class MailError(RuntimeError):
    """SES refused or failed to send; the caller decides whether to retry or report."""


_LINE_BREAKS = {"\r", "\n", "\t", "\v", "\f", "\x85", "\u2028", "\u2029"}


def clean(text: str) -> str:
    """User text as one visible line: line breaks fold to spaces, other control and bidi/format
    characters become visible ``\\uXXXX`` escapes — so no value can start a line of its own
    ("Changed by: …" forgeries), reorder what follows it, or break a header."""
    out = []
    for ch in str(text):
        if ch in _LINE_BREAKS:
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch != "\u200d":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def render(
    to: str,
    subject: str,
    paragraphs: list[str],
    facts: list[tuple[str, str]] | None = None,
    footer: list[str] | None = None,
    highlight: frozenset[str] = frozenset(),
    links: list[tuple[str, str]] | None = None,
) -> Email:
    """Render an email from plain-text pieces. Every piece is escaped in the HTML part; facts
    whose label is in ``highlight`` are marked (``>>`` in text, bold on yellow in HTML)."""
    facts = [(clean(label), clean(value)) for label, value in facts or []]
    highlight = frozenset(clean(label) for label in highlight)
    footer = [clean(p) for p in footer or []]
    paragraphs = [clean(p) for p in paragraphs]
    subject = " ".join(clean(subject).split())[:250]  # user text never breaks the header
    text_parts = [*paragraphs]
    if facts:
        text_parts.append("\n".join(f"{'>> ' if label in highlight else ''}{label}: {value}" for label, value in facts))
    links = [(clean(label), clean(url)) for label, url in links or [] if url.startswith(("https://", "http://"))]
    text_parts.extend(f"{label}: {url}" for label, url in links)
    text_parts.extend(footer)
    text = "\n\n".join(text_parts) + "\n"

    def cell(label: str, value: str) -> str:
        escaped = html.escape(value)
        if label in highlight:
            escaped = f'<strong style="background:#fff3b0">{escaped}</strong>'
        return f'<tr><th align="left" style="padding-right:12px">{html.escape(label)}</th><td>{escaped}</td></tr>'

    rows = "".join(cell(label, value) for label, value in facts)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if rows:
        body += f"<table>{rows}</table>"
    body += "".join(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>' for label, url in links)
    body += "".join(f'<p style="color:#555">{html.escape(p)}</p>' for p in footer)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{body}</body></html>"
    )
    return Email(to=to, subject=subject, text=text, html=page)


def send(mail: Email) -> str:
    """Send one email; returns the SES message id. Raises MailError on any SES failure."""
    cfg = settings()
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = settings().sender_email
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings().sender_email.partition("@")[2] or None)
    msg.set_content(mail.text, cte="quoted-printable")
    msg.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    try:
        extra = {"ConfigurationSetName": cfg.ses_configuration_set} if cfg.ses_configuration_set else {}
        out = client("ses").send_raw_email(
            Source=cfg.sender_email, Destinations=[mail.to], RawMessage={"Data": msg.as_bytes()}, **extra
        )
    except Exception as exc:  # botocore ClientError, throttling, endpoint errors alike
        raise MailError(f"SES did not accept the email: {type(exc).__name__}") from exc
    return str(out["MessageId"])
