"""The WebAuthn challenge of an approval, derived from the exact request (§Passkeys):

    challenge = SHA-256( lp("wabaguard-approval-v1") ‖ lp(challenge id) ‖ lp(method) ‖ lp(path)
                         ‖ lp(body digest, 32 bytes) ‖ lp(nonce) )

where ``lp(x)`` is x's length as 4 bytes big-endian, then x (UTF-8 for text). The signature over
it therefore says what was approved; recomputing it from the request being made is what checks
that the request is that one. Standard library only: the offline verifier copies this function.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

DOMAIN = b"wabaguard-approval-v1"
NONCE_BYTES = 16


def b64url(data: bytes) -> str:
    """base64url without padding, as WebAuthn's JSON writes bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """Bytes of a base64url string (padding optional); ValueError for anything else."""
    if not isinstance(text, str) or len(text) > 16384:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def _lp(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


def approval_challenge(challenge_id: str, method: str, path: str, body_sha256: str, nonce: bytes) -> bytes:
    """The 32 bytes a passkey signs to approve ``method path`` with the body of digest
    ``body_sha256`` (hex) under challenge ``challenge_id``."""
    parts = (DOMAIN, challenge_id.encode(), method.upper().encode(), path.encode(), bytes.fromhex(body_sha256), nonce)
    return hashlib.sha256(b"".join(_lp(p) for p in parts)).digest()
