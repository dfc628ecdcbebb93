"""wabaguard's own pages (the links in its emails: report, cancel, invite, approve): plain HTML,
escaped text, one inline stylesheet allowed by its hash, nothing loaded from anywhere. A page only
asks on GET; only a POST acts, because mail scanners fetch links. The approval page alone has a
script (the passkey needs the browser): one fixed inline script allowed by its hash, its data in a
JSON block that never runs."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass
from typing import Any

from wabaguard.config import settings

REPORT_BUTTON = "Yes, report this change — it was not me"


@dataclass
class LinkPage:
    """What one page says: its status, title, paragraphs, the button of its POST form, a table of
    facts, and ``reveal`` — a secret shown once, set apart to copy (the invite's token)."""

    status: int
    title: str
    paragraphs: list[str]
    button: str | None = None
    facts: list[list[str]] | None = None
    reveal: str | None = None
    script: str | None = None  # one of the module-level scripts (allowed by its hash)
    data: dict[str, Any] | None = None  # what the script reads (a JSON block, never executed)

    def html(self) -> str:
        return html_page(self.title, self.paragraphs, self.button, self.facts, self.reveal, self.script, self.data)


# The page's only styling: inline, allowed by its hash in the page's Content-Security-Policy (no
# 'unsafe-inline', nothing loaded from anywhere).
STYLE = (
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f6f8;color:#1d2733}"
    "header{background:#0b5d3b;color:#fff;padding:14px 24px;font-weight:600;letter-spacing:.02em}"
    "main{max-width:640px;margin:24px auto;background:#fff;border-radius:8px;padding:24px 28px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{font-size:22px;margin:0 0 12px}"
    "table{border-collapse:collapse;width:100%;margin:16px 0}"
    "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e7eb;vertical-align:top}"
    "th{width:34%;color:#52606d;font-weight:500}"
    "td{word-break:break-word}"
    "button{background:#b42318;color:#fff;border:0;border-radius:6px;padding:12px 18px;font-size:16px;cursor:pointer}"
    "pre.secret{background:#0f172a;color:#e2e8f0;padding:14px 16px;border-radius:6px;font-size:15px;"
    "white-space:pre-wrap;word-break:break-all;user-select:all}"
    "footer{max-width:640px;margin:0 auto 24px;color:#52606d;font-size:13px;padding:0 4px}"
)


def source_hash(text: str) -> str:
    """The CSP source that allows exactly this inline style or script."""
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def style_hash() -> str:
    """The CSP source that allows exactly STYLE."""
    return source_hash(STYLE)


def html_page(
    title: str,
    paragraphs: list[str],
    button: str | None = None,
    facts: list[list[str]] | None = None,
    reveal: str | None = None,
    script: str | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """A plain page of wabaguard's (escaped text); ``button`` makes a POST form of it — links in
    emails only ever act on POST, because mail scanners fetch them. With ``script`` the button is
    the script's (it posts what the browser made), and ``data`` is given to it as JSON."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if reveal:
        body += f'<pre class="secret" aria-label="your access token">{html.escape(reveal)}</pre>'
    if facts:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
        body += f"<table>{rows}</table>"
    if button and script:
        body += f'<p><button type="button" id="act">{html.escape(button)}</button></p><p id="status" role="status"></p>'
    elif button:
        body += f'<form method="post"><button type="submit">{html.escape(button)}</button></form>'
    if script:
        # "<" escaped: the JSON can never close the block; the block itself is data, not code.
        payload = json.dumps(data or {}).replace("<", "\\u003c")
        body += f'<script type="application/json" id="data">{payload}</script><script>{script}</script>'
    support = html.escape(settings().support_email)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · wabaguard</title><style>{STYLE}</style></head><body>"
        "<header>wabaguard · account security</header>"
        f"<main><h1>{html.escape(title)}</h1>{body}</main>"
        f"<footer>Questions? Write to {support}.</footer></body></html>"
    )
