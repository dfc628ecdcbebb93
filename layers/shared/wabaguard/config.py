"""Typed settings read once from the environment (the template's Globals).

A missing variable fails loudly with its name the first time settings are needed, not later
with a ``KeyError`` deep inside a request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

API_STAGE = "v1"


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is required")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults of DESIGN.md §OTP."""

    accounts_table: str
    credentials_table: str
    challenges_table: str
    activity_table: str
    idempotency_table: str
    pepper_secret_id: str
    totp_kms_key_id: str
    sender_email: str
    support_email: str
    public_base_url: str
    otp_lifetime_seconds: int
    otp_max_attempts: int
    otp_challenges_per_window: int
    otp_rate_window_seconds: int
    otp_resend_seconds: int
    otp_lockout_failures: int
    otp_lockout_seconds: int
    otp_requests_per_credential: int
    ses_configuration_set: str | None


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read and validate the environment once per container."""
    lifetime = min(_int("OTP_LIFETIME_SECONDS", 600), 600)  # never more than 10 minutes
    return Settings(
        accounts_table=_str("ACCOUNTS_TABLE"),
        credentials_table=_str("CREDENTIALS_TABLE"),
        challenges_table=_str("CHALLENGES_TABLE"),
        activity_table=_str("ACTIVITY_TABLE"),
        idempotency_table=_str("IDEMPOTENCY_TABLE"),
        pepper_secret_id=_str("OTP_PEPPER_SECRET_ID"),
        totp_kms_key_id=_str("TOTP_KMS_KEY_ID"),
        sender_email=_str("SENDER_EMAIL"),
        support_email=_str("SUPPORT_EMAIL", "support@wabaguard.example"),
        public_base_url=_str("PUBLIC_BASE_URL", "https://security.wabaguard.example").rstrip("/"),
        otp_lifetime_seconds=lifetime,
        otp_max_attempts=_int("OTP_MAX_ATTEMPTS", 5),
        otp_challenges_per_window=_int("OTP_CHALLENGES_PER_WINDOW", 5),
        otp_rate_window_seconds=_int("OTP_RATE_WINDOW_SECONDS", 900),
        otp_resend_seconds=_int("OTP_RESEND_SECONDS", 60),
        otp_lockout_failures=_int("OTP_LOCKOUT_FAILURES", 10),
        otp_lockout_seconds=_int("OTP_LOCKOUT_SECONDS", 1800),
        otp_requests_per_credential=_int("OTP_REQUESTS_PER_CREDENTIAL", 30),
        ses_configuration_set=os.environ.get("SES_CONFIGURATION_SET") or None,
    )
