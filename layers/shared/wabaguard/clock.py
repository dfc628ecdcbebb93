"""The one clock of the domain. Tests move it (monkeypatch ``now``) instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from wabaguard.config import settings


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), tz=UTC)


def retry_delay(seconds: float) -> timedelta:
    """A retry schedule's wait. ``RETRY_DELAY_SCALE`` compresses every schedule locally (hours
    become seconds) so that ``make dev`` shows retries, backoff and exhaustion while one watches."""
    return timedelta(seconds=seconds * settings().retry_delay_scale)
