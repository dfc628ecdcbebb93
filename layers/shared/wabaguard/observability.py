"""Logging with secrets masked: every log line passes through ``redact`` before it is written.

Handlers never log events whole, but a token or code can still slip into an exception message or
an ``extra``; the formatter erases bearer tokens, API keys, report and ops tokens, OTP codes next
to their names, authorization headers and otpauth:// URIs (which carry TOTP seeds).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

MASK = "*****"
_PATTERNS = (
    # user tokens, API keys, report, cancel and invite links, ops token; webhook secrets; Meta access tokens
    re.compile(r"\bwg[ukroci]_[A-Za-z0-9_-]{8,}|\bwhsec_[A-Za-z0-9+/=]{8,}|\bEAA[A-Za-z0-9]{20,}"),
    re.compile(r"otpauth://[^\s\"'\\]+"),  # TOTP provisioning URIs (seed inside)
    re.compile(r"(?i)\b(bearer)\s+[^\s\"'\\]+"),
    re.compile(
        r"(?i)((?:x-otp-code|otp_code|code|secret|seed|password|token|api_key)\\?[\"']?\s*[:=]\s*\\?[\"']?)"
        r"([^\"'\\,\s}]+)"
    ),
)


def redact(text: str) -> str:
    """Mask anything that looks like a secret in ``text``."""
    text = _PATTERNS[0].sub(MASK, text)
    text = _PATTERNS[1].sub("otpauth://" + MASK, text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _PATTERNS[3].sub(lambda m: f"{m.group(1)}{MASK}", text)


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: Any) -> str:
        return redact(super().serialize(log))


def _redact_record(record: logging.LogRecord) -> bool:
    record.msg, record.args = redact(record.getMessage()), None
    return True


# Powertools' own router logs each route's path parameters at DEBUG — a link's token among them
# (``/invite/{token}``): its records are masked too, whatever handler ends up writing them.
logging.getLogger("aws_lambda_powertools.event_handler.api_gateway").addFilter(_redact_record)


def logger(**kwargs: Any) -> Logger:
    """The service's Powertools Logger (JSON, one service name) with secrets masked."""
    return Logger(logger_formatter=RedactingFormatter(), **kwargs)
