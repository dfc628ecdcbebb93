"""A thin client for the Graph API calls of §Platform, on urllib3.

Why not a WhatsApp SDK: pywa 4.5 (the maintained one) costs ~0.4 s to import and takes templates
as its own classes, while we must send exactly the components a user approved; the three calls
are plain JSON POSTs. urllib3 is the HTTP library botocore already ships in the Lambda runtime.

Every answer is sorted into what the applier must do with it: ``applied``; ``transient`` (5xx,
429, timeouts, Meta's ``is_transient`` and throttling codes: try again later); ``config`` (our
system-user token is missing, expired or lacks a permission: the provider must fix it, the change
waits); ``permanent`` (Meta refused the change itself: it failed, the users are told why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import urllib3

from wabaguard import aws
from wabaguard.config import settings

# Graph error codes Meta documents as throttling or temporary (codes, not titles: titles change).
THROTTLING = frozenset({4, 17, 32, 613, 80007, 80008, 130429, 131048, 131056, 133016})
TEMPORARY = frozenset({1, 2, 131000, 131016, 133004})
# Our token, not the change: expired/invalid token (190, 102), missing permission (10, 200-299).
AUTH = frozenset({0, 102, 190, 10})
MAX_ANSWER = 256 * 1024


@dataclass
class Outcome:
    """What one Graph call came to."""

    kind: str  # applied | transient | config | permanent
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    code: int | None = None
    subcode: int | None = None
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.kind == "applied"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify(status: int, body: dict[str, Any]) -> Outcome:
    """Sort a Graph answer (status and parsed JSON) into an outcome. Meta's error object:
    ``{"error": {"message", "type", "code", "error_subcode", "error_user_title", "error_user_msg",
    "is_transient", "fbtrace_id"}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    if 200 <= status < 300 and not error:
        return Outcome("applied", status, body)
    if not isinstance(error, dict):
        kind = "transient" if status >= 500 or status == 429 else "permanent"
        return Outcome(kind, status, body, detail=f"Meta answered HTTP {status}")
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    words = error.get("error_user_msg") or error.get("message") or f"Meta answered HTTP {status}"
    detail = str(words)[:500]
    if status >= 500 or status == 429 or error.get("is_transient") is True or code in THROTTLING | TEMPORARY:
        kind = "transient"
    elif code in AUTH or (code is not None and 200 <= code <= 299) or status == 401:
        kind = "config"
    else:
        kind = "permanent"
    return Outcome(kind, status, body, code, subcode, detail)


class Graph:
    """Calls one Graph API (Meta's, or a stand-in) as the provider's system user."""

    def __init__(self, base_url: str, version: str, token: str, timeout_s: float | None = None) -> None:
        timeout_s = timeout_s or settings().graph_timeout_s
        self.base = base_url.rstrip("/")
        self.version = version
        self.token = token
        # No retries here (the applier retries with backoff, across invocations), no redirects.
        self.http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=min(3.0, timeout_s), read=timeout_s)
        )

    def url(self, path: str) -> str:
        return f"{self.base}/{self.version}/{path.lstrip('/')}"

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, str] | None = None
    ) -> Outcome:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":")).encode()
        try:
            resp = self.http.request(
                method, self.url(path), body=data, fields=query, headers=headers, redirect=False, preload_content=False
            )
            raw = resp.read(MAX_ANSWER + 1, decode_content=True)
            resp.release_conn()
        except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, broken answers
            return Outcome("transient", detail=f"no answer from the Graph API ({type(exc).__name__})")
        try:
            parsed = json.loads(raw[:MAX_ANSWER]) if raw else {}
        except ValueError:
            parsed = {}
        if not isinstance(parsed, dict):
            parsed = {"data": parsed}
        return classify(resp.status, parsed)


class NotConfigured(RuntimeError):
    """The provider has not stored the system-user token yet (README, Deploying)."""


def from_environment() -> Graph:
    """The Graph API of this deployment: base URL and version from the template's parameters, the
    system-user token from Secrets Manager (cached 5 minutes, so a rotated token is picked up)."""
    cfg = settings()
    if not cfg.graph_token_secret_id or not cfg.graph_api_base_url:
        raise NotConfigured("GRAPH_TOKEN_SECRET_ID and GRAPH_API_BASE_URL are required to reach Meta")
    secret = aws.secret(cfg.graph_token_secret_id, transform="json")
    token = secret.get("token") if isinstance(secret, dict) else None
    if not isinstance(token, str) or not token:
        raise NotConfigured("the Graph token secret holds no token")
    return Graph(cfg.graph_api_base_url, cfg.graph_api_version, token)
