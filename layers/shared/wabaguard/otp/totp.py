"""Authenticator codes (RFC 6238 via pyotp): which time step a code matches, and the one rule that
a step is accepted at most once per user. Shared by enrollment (``actions``) and the authorizer
(``otp``), and free of pydantic so the authorizer can import it."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import pyotp

from wabaguard.models import TotpState, totp_pk


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (±1 around now) whose TOTP equals ``code``, compared in constant time."""
    totp = pyotp.TOTP(secret)
    step_now = int(now.timestamp()) // totp.interval
    found = None
    for step in (step_now - 1, step_now, step_now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def spend(user_id: str, step: int) -> tuple[TotpState, dict[str, Any]]:
    """The item and update arguments that record ``step`` as used, only if it is newer than the
    last step accepted; run them alone (``item.update(**args)``) or inside a transaction."""
    return TotpState(totp_pk(user_id)), {
        "actions": [TotpState.last_step.set(step)],
        "condition": TotpState.last_step.does_not_exist() | (TotpState.last_step < step),
    }


def last_step(user_id: str) -> int:
    """The last step accepted for a user (0 when none): a code of this step or older is spent."""
    try:
        return int(TotpState.get(totp_pk(user_id), consistent_read=True).last_step or 0)
    except TotpState.DoesNotExist:
        return 0
