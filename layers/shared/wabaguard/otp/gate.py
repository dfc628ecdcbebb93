"""The authorizer's decision (§Credentials, §OTP), without Lambda: a bearer credential, then — on a
key-action route — the answer to its challenge. The handler only turns the decision into a policy.

Fails closed: an unknown token is ``Unauthenticated`` (401); an OTP problem is a denial carrying the
§OTP body; any other error propagates (the gateway answers 503), never an allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wabaguard.activity import RequestMeta
from wabaguard.config import API_STAGE
from wabaguard.errors import OtpDenied
from wabaguard.keyactions import registry
from wabaguard.otp import checks
from wabaguard.people.principal import Principal
from wabaguard.security import token_digest

MAX_TOKEN = 512
MAX_CHALLENGE_ID = 80


class Unauthenticated(Exception):
    """No valid bearer credential: API Gateway answers 401."""


@dataclass(frozen=True)
class Request:
    """What the gateway tells the authorizer about one request."""

    authorization: str
    method: str
    resource: str | None  # the template's path the gateway matched
    path: str  # without the stage, as the gateway gives it
    stage: str | None
    challenge_id: str
    code: str
    meta: RequestMeta
    passkey: str = ""  # X-OTP-Passkey: base64url of the AuthenticationResponseJSON (§Passkeys)


@dataclass
class Decision:
    principal_id: str
    allow: bool
    context: dict[str, Any] = field(default_factory=dict)  # strings only (API Gateway's rule)
    denied: dict[str, Any] | None = None  # the JSON body of a denial
    outcome: str = "allowed"  # for metrics: allowed | verified | locked | failed | forbidden | otp_required


def bearer(value: str) -> str | None:
    scheme, _, token = (value or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
        return None
    return token


def decide(request: Request) -> Decision:
    """Allow exactly this request, or say why not."""
    token = bearer(request.authorization)
    if token is None:
        raise Unauthenticated()
    path = registry.stage_path(request.stage or API_STAGE, request.path)
    # The gateway's own routing decides what is a key action (its resource), with the concrete
    # path as a second opinion: either one says key action → an OTP is required.
    action = registry.by_resource(request.method, request.resource)
    matched = (action, {}) if action is not None else registry.match(request.method, path)
    challenge_id, code = request.challenge_id, request.code
    wants_otp = matched is not None and bool(challenge_id) and len(challenge_id) <= MAX_CHALLENGE_ID
    cred, challenge = checks.fetch(token_digest(token), challenge_id if wants_otp else None)
    if not checks.accepted(cred, matched[0].name if matched else None, challenge_id):
        raise Unauthenticated()
    assert cred is not None
    principal = Principal.from_credential(cred)
    context: dict[str, Any] = principal.context()
    if matched is None:
        return Decision(principal.principal_id, True, context)
    key_action = matched[0]
    if not principal.is_user:
        body = {"error": "forbidden", "detail": "key actions must be made by a user, not an API key"}
        return Decision(principal.principal_id, False, denied=body, outcome="forbidden")
    # A passkey challenge may come back with X-OTP-Challenge alone (approved on its page).
    answered = code or request.passkey or (challenge is not None and challenge.channel == "passkey")
    if not challenge_id or not answered:
        body = {
            "error": "otp_required",
            "detail": f"{key_action.name} needs a one-time password: POST /v1/otp/challenges first, "
            "then repeat with X-OTP-Challenge and X-OTP-Code (or X-OTP-Passkey)",
        }
        return Decision(principal.principal_id, False, denied=body, outcome="otp_required")
    try:
        approval = checks.verify(
            cred, challenge, code, request.method.upper(), path, request.meta, passkey=request.passkey
        )
    except OtpDenied as denied:
        outcome = "locked" if denied.code == "otp_locked" else "failed"
        return Decision(principal.principal_id, False, denied=denied.body(), outcome=outcome)
    if cred.status != "active" and not approval.replay:  # a replaced token only ever retries
        raise Unauthenticated()
    context.update(approval.context())
    return Decision(principal.principal_id, True, context, outcome="verified")
