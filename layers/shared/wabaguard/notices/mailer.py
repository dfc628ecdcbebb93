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
from wabaguard.mail import sent

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


# One layout for every email (inline styles: mail clients drop stylesheets). Table-based, so the
# clients that ignore CSS layout still show a readable column.
FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
DEFAULT_WHY = "You receive this because you are a user of a WhatsApp Business Account protected by wabaguard."


def render(
    to: str,
    subject: str,
    paragraphs: list[str],
    facts: list[tuple[str, str]] | None = None,
    footer: list[str] | None = None,
    highlight: frozenset[str] = frozenset(),
    links: list[tuple[str, str]] | None = None,
    *,
    code: str | None = None,
    code_label: str = "Your one-time code is",
    integrators: list[str] | None = None,
    why: str | None = None,
    reference: str | None = None,
) -> Email:
    """Render an email from plain-text pieces, every one escaped in the HTML part.

    ``paragraphs`` speak to a person; ``code`` is set apart (a one-time password); ``facts`` are a
    table (labels in ``highlight`` marked: ``>>`` in text, bold on yellow in HTML); ``links`` are
    buttons to wabaguard's pages; ``footer`` are quieter paragraphs; ``integrators`` is the one place
    for API hints, in a separate block; the footer says ``why`` they got it and whom to contact."""
    facts = [(clean(label), clean(value)) for label, value in facts or []]
    highlight = frozenset(clean(label) for label in highlight)
    footer = [clean(p) for p in footer or []]
    integrators = [clean(p) for p in integrators or []]
    paragraphs = [clean(p) for p in paragraphs]
    subject = " ".join(clean(subject).split())[:250]  # user text never breaks the header
    links = [(clean(label), clean(url)) for label, url in links or [] if url.startswith(("https://", "http://"))]
    support = clean(settings().support_email)
    closing = [clean(why or DEFAULT_WHY), f"Questions, or something looks wrong? Write to {support}."]
    if reference:
        closing.append(f"Reference: {clean(reference)}")

    text_parts = [paragraphs[0]] if paragraphs else []
    if code:
        text_parts.append(f"{clean(code_label)} {clean(code)}")
    text_parts.extend(paragraphs[1:])
    if facts:
        text_parts.append("\n".join(f"{'>> ' if label in highlight else ''}{label}: {value}" for label, value in facts))
    text_parts.extend(f"{label}: {url}" for label, url in links)
    text_parts.extend(footer)
    if integrators:
        text_parts.append("For integrators: " + " ".join(integrators))
    text_parts.append("-- \nwabaguard · account security\n" + "\n".join(closing))
    text = "\n\n".join(text_parts) + "\n"

    def para(p: str, style: str = "margin:0 0 14px") -> str:
        return f'<p style="{style}">{html.escape(p)}</p>'

    def cell(label: str, value: str) -> str:
        escaped = html.escape(value)
        if label in highlight:
            escaped = f'<strong style="background:#fff3b0;padding:0 2px">{escaped}</strong>'
        th = "text-align:left;vertical-align:top;padding:6px 12px 6px 0;color:#52606d;font-weight:500;width:38%"
        td = "vertical-align:top;padding:6px 0;word-break:break-word"
        return (
            f'<tr style="border-bottom:1px solid #e3e7eb"><th style="{th}">{html.escape(label)}</th>'
            f'<td style="{td}">{escaped}</td></tr>'
        )

    body = para(paragraphs[0]) if paragraphs else ""
    if code:
        body += para(code_label, "margin:0 0 6px")
        body += (
            f'<p style="margin:4px 0 18px;font:600 30px/1.2 {MONO};letter-spacing:6px;background:#f1f5f9;'
            'border:1px solid #d5dde5;border-radius:8px;padding:14px 18px;text-align:center">'
            f"{html.escape(clean(code))}</p>"
        )
    body += "".join(para(p) for p in paragraphs[1:])
    if facts:
        rows = "".join(cell(label, value) for label, value in facts)
        table = "border-collapse:collapse;width:100%;margin:6px 0 18px;font-size:15px"
        body += f'<table role="presentation" style="{table}">{rows}</table>'
    for label, url in links:
        body += (
            f'<p style="margin:0 0 12px"><a href="{html.escape(url, quote=True)}" style="display:inline-block;'
            "background:#0b5d3b;color:#ffffff;text-decoration:none;border-radius:6px;padding:10px 16px;"
            f'font-weight:600">{html.escape(label)}</a></p>'
        )
    body += "".join(para(p, "margin:0 0 12px;color:#52606d;font-size:14px") for p in footer)
    if integrators:
        body += (
            '<p style="margin:16px 0 0;padding:10px 12px;background:#f8fafc;border-left:3px solid #cbd5e1;'
            f'color:#52606d;font-size:13px"><strong>For integrators:</strong> '
            f'<span style="font-family:{MONO}">{html.escape(" ".join(integrators))}</span></p>'
        )
    foot = "".join(para(p, "margin:0 0 6px") for p in closing)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(subject)}</title></head>"
        f'<body style="margin:0;padding:0;background:#f4f6f8;font-family:{FONT};color:#1d2733;font-size:16px;'
        'line-height:1.5"><table role="presentation" width="100%" style="border-collapse:collapse;'
        'background:#f4f6f8"><tr><td align="center" style="padding:24px 12px">'
        '<table role="presentation" width="100%" style="max-width:640px;border-collapse:collapse">'
        '<tr><td style="background:#0b5d3b;color:#ffffff;padding:14px 24px;font-weight:600;letter-spacing:.02em;'
        'border-radius:8px 8px 0 0">wabaguard · account security</td></tr>'
        f'<tr><td style="background:#ffffff;padding:24px 28px;border-radius:0 0 8px 8px">{body}</td></tr>'
        f'<tr><td style="padding:16px 4px;color:#52606d;font-size:13px">{foot}</td></tr>'
        "</table></td></tr></table></body></html>"
    )
    return Email(to=to, subject=subject, text=text, html=page)


def send(mail: Email, about: sent.About | None = None) -> str:
    """Send one email; returns the SES message id. Raises MailError on any SES failure. With
    ``about`` (what the email is), its delivery is kept for SES's events (§Mail delivery)."""
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
    message_id = str(out["MessageId"])
    if about is not None:
        sent.record(message_id, mail.to, mail.subject, about)
    return message_id
