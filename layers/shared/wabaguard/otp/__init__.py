"""One-time approvals of key actions (§OTP).

- ``challenges``: issue a challenge for a prepared request, resend its code;
- ``checks``: the authorizer's check of an answer (code, TOTP step, recovery code), lockouts, replays;
- ``approvals``: the approval consumed in the key action's own transaction, exactly once;
- ``totp``: authenticator apps (RFC 6238) and the steps they spent;
- ``emails``: what the code, replay and lockout emails say.

The entry is this package: ``otp.issue``, ``otp.resend``, ``otp.verify``, ``otp.fetch``,
``otp.accepted``, ``otp.Approval``. Names resolve on first use, so the authorizer's cold start
loads only the checks it needs.
"""

from __future__ import annotations

from wabaguard.lazy import entry

_ENTRY = {
    "Asked": "challenges",
    "issue": "challenges",
    "resend": "challenges",
    "status": "challenges",
    "count_request": "challenges",
    "challenge_view": "challenges",
    "reference": "emails",
    "Approval": "checks",
    "fetch": "checks",
    "verify": "checks",
    "accepted": "checks",
    "replayed": "checks",
    "IDEMPOTENT_SECONDS": "checks",
}


__getattr__ = entry("wabaguard.otp", _ENTRY)
