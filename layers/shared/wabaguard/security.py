"""Secrets: generation, digests and comparisons. No secret leaves this module except as a digest
or the one-time reveal that the caller returns to the user."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

TOKEN_BYTES = 24  # 192 bits, above the 128-bit floor of §Credentials
CODE_DIGITS = 6


def new_token(prefix: str) -> str:
    """A bearer credential: a readable kind prefix and 192 random bits."""
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def token_digest(token: str) -> str:
    """SHA-256 of a bearer token; the only form in which tokens are stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_id(prefix: str) -> str:
    """An opaque identifier (not a secret)."""
    return f"{prefix}_{secrets.token_hex(8)}"


def canonical_json(body: Any) -> str:
    """The canonical text of a JSON body (§OTP Binding); no body is ``{}``."""
    if body is None:
        body = {}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_digest(body: Any) -> str:
    """SHA-256 of the canonical JSON body."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def parse_json_body(raw: str | bytes | None) -> Any:
    """Parse a request body for digesting; an empty body is ``{}``. Raises ValueError."""
    if raw is None:
        return {}
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if not text.strip():
        return {}
    return json.loads(text)


def new_code_seed() -> str:
    """Random seed from which a challenge's code is derived (with the pepper)."""
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def derive_code(pepper: bytes, challenge_id: str, seed: str) -> str:
    """The 6-digit code of a challenge.

    Derived from a random seed with the pepper so that a resend can send the *same* code while
    the table holds nothing that reveals it without the pepper (the stored digest alone would
    not either, but could not be turned back into the code for a resend).
    """
    mac = hmac.new(pepper, f"code|{challenge_id}|{seed}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(mac, "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def code_digest(pepper: bytes, challenge_id: str, code: str) -> str:
    """HMAC-SHA256(pepper, challenge_id ‖ code): what is stored and compared."""
    return hmac.new(pepper, f"{challenge_id}{code}".encode(), hashlib.sha256).hexdigest()


def same_digest(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two digests; ``None`` never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def looks_like_code(code: str | None) -> bool:
    """A syntactically valid OTP: exactly six ASCII digits."""
    return bool(code) and len(code or "") == CODE_DIGITS and (code or "").isascii() and (code or "").isdigit()


def mask_email(email: str) -> str:
    """``alice@acme.test`` → ``a***@acme.test``: enough to recognise, not to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
