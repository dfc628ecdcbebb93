"""Typed settings read once from the environment — the only place the layer reads it.

Every variable comes from template.yaml (a Global, or a function's own ``Environment`` fed by a
template parameter; locally ``devstack`` sets the same names). A missing or malformed variable
fails loudly with its name the first time settings are needed, not later with a ``KeyError`` deep
inside a request. ``settings()`` is cached per container; ``ACTIVITY_SHARDS`` and ``region()`` are
read at import because table layouts and clients are built from them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

API_STAGE = "v1"


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is required")
    return value


def _flag(name: str) -> bool:
    return os.environ.get(name) == "1"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from exc


def _opt(name: str) -> str | None:
    return os.environ.get(name) or None


def _origins(raw: str) -> tuple[str, ...]:
    """Extra WebAuthn origins (comma-separated ``https://host[:port]``), checked when read."""
    out = []
    for item in (x.strip().rstrip("/") for x in raw.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query:
            raise ConfigError(f"PASSKEY_EXTRA_ORIGINS: {item!r} is not an origin like https://app.example.com")
        out.append(item)
    return tuple(out)


def region() -> str | None:
    """The AWS region (Lambda sets ``AWS_REGION``; the local stack and tools set both)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


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
    passkey_rp_id: str  # PasskeyRpId (default: the host of public_base_url)
    passkey_origins: tuple[str, ...]  # public_base_url, then PasskeyExtraOrigins (integrators' front ends)
    otp_lifetime_seconds: int
    otp_max_attempts: int
    otp_challenges_per_window: int
    otp_rate_window_seconds: int
    otp_resend_seconds: int
    otp_lockout_failures: int
    otp_lockout_seconds: int
    otp_requests_per_credential: int
    ses_configuration_set: str | None
    # template parameters beyond §OTP
    partner_change_cooling_off_s: int  # PartnerChangeCoolingOffSeconds
    risk_rules_config: str  # RiskRulesConfig (JSON keyed by rule id)
    risk_scan_max_records: int
    risk_scan_max_seconds: float
    risk_scan_function: str | None  # the scan's own name, for its fan-out
    security_webhook_function: str | None  # the deliveries' function, kicked by the notifier
    activity_ingest_dlq_url: str | None  # where the ingest queue's refused messages go, with the reason
    meta_app_secret_id: str | None  # MetaAppSecret: app secret and verify token
    graph_api_base_url: str | None  # GraphApiBaseUrl
    graph_api_version: str  # GraphApiVersion
    graph_token_secret_id: str | None  # the system-user token
    graph_timeout_s: float
    waba_watch_minutes: int  # WabaWatchMinutes: every watched WABA is read once per period
    waba_watch_max_calls: int  # WabaWatchMaxCalls: Graph calls one run of the watch may make
    # local and test switches, never set in a deployed stack
    retry_delay_scale: float  # every backoff scaled (the local stack compresses them to seconds)
    allow_loopback_webhooks: bool  # webhook URLs on http://127.0.0.1 for local receivers
    allow_test_email_domains: bool  # the demo's people live at .test domains


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read and validate the environment once per container."""
    lifetime = min(_int("OTP_LIFETIME_SECONDS", 600), 600)  # never more than 10 minutes
    base_url = _str("PUBLIC_BASE_URL", "https://security.wabaguard.example").rstrip("/")
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
        public_base_url=base_url,
        passkey_rp_id=_opt("PASSKEY_RP_ID") or (urlsplit(base_url).hostname or ""),
        passkey_origins=(base_url, *_origins(os.environ.get("PASSKEY_EXTRA_ORIGINS", ""))),
        otp_lifetime_seconds=lifetime,
        otp_max_attempts=_int("OTP_MAX_ATTEMPTS", 5),
        otp_challenges_per_window=_int("OTP_CHALLENGES_PER_WINDOW", 5),
        otp_rate_window_seconds=_int("OTP_RATE_WINDOW_SECONDS", 900),
        otp_resend_seconds=_int("OTP_RESEND_SECONDS", 60),
        otp_lockout_failures=_int("OTP_LOCKOUT_FAILURES", 10),
        otp_lockout_seconds=_int("OTP_LOCKOUT_SECONDS", 1800),
        otp_requests_per_credential=_int("OTP_REQUESTS_PER_CREDENTIAL", 30),
        ses_configuration_set=_opt("SES_CONFIGURATION_SET"),
        partner_change_cooling_off_s=_int("PARTNER_CHANGE_COOLING_OFF_S", 86400),
        risk_rules_config=os.environ.get("RISK_RULES_CONFIG", "").strip(),
        risk_scan_max_records=_int("RISK_SCAN_MAX_RECORDS", 20000),
        risk_scan_max_seconds=_float("RISK_SCAN_MAX_SECONDS", 60),
        risk_scan_function=_opt("RISK_SCAN_FUNCTION"),
        security_webhook_function=_opt("SECURITY_WEBHOOK_FUNCTION"),
        activity_ingest_dlq_url=_opt("ACTIVITY_INGEST_DLQ_URL"),
        meta_app_secret_id=_opt("META_APP_SECRET_ID"),
        graph_api_base_url=_opt("GRAPH_API_BASE_URL"),
        graph_api_version=os.environ.get("GRAPH_API_VERSION") or "v23.0",
        graph_token_secret_id=_opt("GRAPH_TOKEN_SECRET_ID"),
        graph_timeout_s=_float("GRAPH_TIMEOUT_S", 10),
        waba_watch_minutes=max(_int("WABA_WATCH_MINUTES", 60), 1),
        waba_watch_max_calls=max(_int("WABA_WATCH_MAX_CALLS", 200), 10),
        retry_delay_scale=_float("RETRY_DELAY_SCALE", 1),
        allow_loopback_webhooks=_flag("ALLOW_LOOPBACK_WEBHOOKS"),
        allow_test_email_domains=_flag("WABAGUARD_ALLOW_TEST_EMAIL_DOMAINS"),
    )


# Read at import: the Activity table's sharding is its layout (template parameter ActivityShards).
ACTIVITY_SHARDS = _int("ACTIVITY_SHARDS", 4)
