"""Checking a passkey's answer to a challenge (§Passkeys): the request options a challenge
carries, and the assertion checked against the challenge *recomputed from the request being
made* — origin, RP id, user verification, the signature with the stored public key, and a sign
counter that must not go back (a clone). Every refusal is a ``Refused``; the caller counts it
like a wrong code."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wabaguard import activity
from wabaguard.activity import RequestMeta
from wabaguard.config import settings
from wabaguard.models import Passkey
from wabaguard.passkeys import store
from wabaguard.passkeys.binding import approval_challenge, b64url, from_b64url

MAX_ASSERTION = 8192


class Refused(Exception):
    """The assertion does not approve this request; ``clone``: it is valid but its sign counter
    went back — a copy of the passkey is in use somewhere."""

    def __init__(self, detail: str, clone: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.clone = clone


@dataclass(frozen=True)
class Checked:
    passkey: Passkey
    sign_count: int
    assertion: str  # the AuthenticationResponseJSON as checked (for the receipt)
    origin: str

    @property
    def digest(self) -> str:
        return assertion_digest(self.assertion)


def assertion_digest(assertion: str) -> str:
    return hashlib.sha256(assertion.encode()).hexdigest()


def request_options(challenge: bytes, passkeys: list[Passkey], timeout_s: int) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions as JSON: this challenge, the user's passkeys allowed,
    user verification required."""
    return {
        "challenge": b64url(challenge),
        "timeout": timeout_s * 1000,
        "rpId": settings().passkey_rp_id,
        "allowCredentials": [
            {
                "type": "public-key",
                "id": p.credential_id,
                **({"transports": p.transports.split(",")} if p.transports else {}),
            }
            for p in passkeys
        ],
        "userVerification": "required",
    }


def decode_header(value: str) -> str:
    """``X-OTP-Passkey``: base64url of the AuthenticationResponseJSON → its JSON text."""
    if not value or len(value) > MAX_ASSERTION * 2:
        raise Refused("X-OTP-Passkey is empty or too long")
    try:
        text = from_b64url(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise Refused("X-OTP-Passkey is not base64url of the AuthenticationResponseJSON") from None
    return text


def check(
    account_id: str,
    user_id: str,
    challenge_id: str,
    nonce: str,
    method: str,
    path: str,
    body_sha256: str,
    assertion: str,
) -> Checked:
    """Whether ``assertion`` is the user's passkey approving exactly ``method path`` with the body
    of digest ``body_sha256`` under this challenge. Raises Refused otherwise (fail closed: any
    error of parsing or checking is a refusal)."""
    if len(assertion) > MAX_ASSERTION:
        raise Refused("the assertion is too long")
    try:
        data = json.loads(assertion)
        credential_id = data["id"]
        if not isinstance(credential_id, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise Refused("the assertion is not an AuthenticationResponseJSON") from None
    passkey = store.by_credential(store.of_user(account_id, user_id, consistent=True), credential_id)
    if passkey is None:
        raise Refused("the assertion is not by a passkey of yours")
    expected = approval_challenge(challenge_id, method, path, body_sha256, from_b64url(nonce))
    from webauthn import verify_authentication_response
    from webauthn.helpers import parse_client_data_json

    cfg = settings()
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=expected,
            expected_rp_id=cfg.passkey_rp_id,
            expected_origin=list(cfg.passkey_origins),
            credential_public_key=from_b64url(passkey.public_key),
            credential_current_sign_count=0,  # compared below, after the signature checked out
            require_user_verification=True,
        )
        origin = parse_client_data_json(from_b64url(data["response"]["clientDataJSON"])).origin
    except Exception as exc:  # noqa: BLE001 - whatever py_webauthn or its parsers raise, it is a refusal
        raise Refused(f"the passkey's signature does not approve this request ({_reason(exc)})") from None
    new, stored = int(verified.new_sign_count), int(passkey.sign_count or 0)
    if (new > 0 or stored > 0) and new <= stored:
        raise Refused(f"the passkey's sign counter went back ({new} after {stored})", clone=True)
    return Checked(passkey, new, assertion, origin)


def clone_suspected(account_id: str, user_id: str, detail: str, meta: RequestMeta, now: datetime) -> None:
    """A valid signature whose counter went back: recorded; the risk scan raises the high flag."""
    activity.record(account_id, "passkey_clone_suspected", meta, at=now, user_id=user_id, detail=detail)


def _reason(exc: Exception) -> str:
    text = str(exc).split(".")[0][:160]
    return text or type(exc).__name__
