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


def for_people(at: datetime | str | None) -> str:
    """A time as a person reads it, with its zone: "Wed 2 Dec 2026, 14:05 UTC". wabaguard does not
    know where each recipient is, so every email says UTC outright instead of a bare ISO string."""
    if at is None or at == "":
        return "(not set)"
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return str(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    return f"{at:%a} {at.day} {at:%b %Y, %H:%M} UTC"


def in_words(seconds: float) -> str:
    """A duration as a person says it: "24 hours", "1 hour 30 minutes", "30 seconds", "7 days"."""
    total = round(seconds)
    if total < 60:
        return f"{total} second{'s' if total != 1 else ''}"
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts[:2])
