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


MAX_DEPTH = 32  # no request of ours nests deeper; deeper input is refused, not recursed into


class BadJson(ValueError):
    """The body is not JSON we accept; the message says why (for the 400's detail)."""


def parse_json_body(raw: str | bytes | None) -> Any:
    """Parse a request body for digesting; an empty body is ``{}``. Raises ValueError (BadJson
    for JSON that parses but cannot be digested or stored: too deep, or a lone surrogate)."""
    if raw is None:
        return {}
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadJson(f"nests deeper than {MAX_DEPTH} levels") from None
    check_json(value)
    return value


def check_json(value: Any) -> None:
    """Refuse values nested deeper than MAX_DEPTH or holding lone surrogates (``"\\ud800"``
    parses, but cannot be encoded as UTF-8, so it could never be digested, stored or sent)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadJson(f"nests deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and _has_surrogate(item):
            raise BadJson("contains a lone surrogate (text that is not valid Unicode)")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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


RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
RECOVERY_CODES = 10


def new_recovery_code() -> str:
    """A single-use authenticator recovery code: 12 characters (~59 bits), ``xxxx-xxxx-xxxx``."""
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def looks_like_recovery_code(code: str | None) -> bool:
    text = (code or "").replace("-", "").strip().lower()
    return len(text) == 12 and all(ch in RECOVERY_ALPHABET for ch in text)


def recovery_digest(pepper: bytes, user_id: str, code: str) -> str:
    """HMAC-SHA256(pepper, user ‖ normalised code): what is stored; the code itself never is."""
    normal = code.replace("-", "").strip().lower()
    return hmac.new(pepper, f"recovery|{user_id}|{normal}".encode(), hashlib.sha256).hexdigest()
