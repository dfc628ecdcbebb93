"""The vocabulary of the risk scan: records as plain data, the account's state, rules, findings.

Rules are pure functions over (state before this run, state after folding the new records, the
new records); they never touch AWS, so each one is tested with plain data beside its definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from wabaguard.config import settings

LEARNING = timedelta(days=3)  # novelty rules stay quiet while an account is this young


@dataclass(frozen=True)
class Rec:
    """An activity record as rules see it."""

    record_id: str
    kind: str
    at: datetime
    account_id: str = "acc"
    phone_number_id: str | None = None
    key_id: str | None = None
    user_id: str | None = None
    count: int = 0
    countries: dict[str, int] = field(default_factory=dict)
    ip: str | None = None
    country: str | None = None
    action: str | None = None
    detail: str | None = None
    request_id: str | None = None

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record_id": self.record_id,
            "kind": self.kind,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for name in ("phone_number_id", "key_id", "user_id", "ip", "country", "action", "detail", "request_id"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.kind in ("messages_sent", "api_request"):
            out["count"] = self.count
        if self.countries:
            out["countries"] = dict(self.countries)
        return out


@dataclass
class Context:
    account_id: str
    now: datetime
    before: dict[str, Any]  # state before this run
    after: dict[str, Any]  # state with the new records folded in
    records: list[Rec]  # the records new to this account in this run
    first_seen: datetime
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def learning(self) -> bool:
        return self.now - self.first_seen < LEARNING

    def t(self, name: str) -> float:
        return float(self.thresholds[name])

    def novel_before(self, at: datetime, maps: tuple[str, ...] = ("novel_access",)) -> tuple[str, str] | None:
        """The newest access new to the account (``novel_access``: a country, ``novel_ips``: an IP)
        within ``window_hours`` before ``at`` (inclusive): (when, words) or None."""
        window = timedelta(hours=int(self.thresholds.get("window_hours", 24)))
        novel: dict[str, str] = {}
        for name in maps:
            novel.update(self.after.get(name) or {})
        until, since = at.strftime("%Y-%m-%dT%H:%M:%SZ"), (at - window).strftime("%Y-%m-%dT%H:%M:%SZ")
        earlier = sorted((when, what) for when, what in novel.items() if since <= when <= until)
        return earlier[-1] if earlier else None


@dataclass
class Finding:
    """What a rule found: values for its explanation, the evidence, and an optional severity."""

    values: dict[str, Any]
    evidence: list[Rec]
    severity: str | None = None  # overrides the rule's default (e.g. worse from a new country)
    subject: dict[str, Any] = field(default_factory=dict)  # what feedback acts on (ips, countries, phone)


@dataclass(frozen=True)
class Case:
    """A test case kept beside its rule: the state before, the new records, and the expectation."""

    name: str
    records: list[Rec]
    before: dict[str, Any] = field(default_factory=dict)
    fires: bool = True
    severity: str | None = None
    account_age_days: float = 30
    contains: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # low | medium | high
    thresholds: dict[str, float]
    evaluate: Callable[[Context], Finding | None]
    explanation: str  # str.format template over Finding.values
    cases: tuple[Case, ...] = ()
    audit_only: bool = False
    # When the rule wants to look at the account again even if no record arrives by then (rules
    # about the absence of activity); None: only when records arrive.
    wake: Callable[[Context], datetime | None] | None = None

    def configured(self, config: dict[str, Any]) -> Rule:
        """This rule with thresholds / audit-only mode from configuration."""
        mine = config.get(self.id, {})
        unknown = set(mine.get("thresholds", {})) - set(self.thresholds)
        if unknown:
            raise ValueError(f"rule {self.id} has no thresholds {sorted(unknown)}")
        return Rule(
            self.id,
            mine.get("severity", self.severity),
            {**self.thresholds, **mine.get("thresholds", {})},
            self.evaluate,
            self.explanation,
            self.cases,
            bool(mine.get("audit_only", self.audit_only)),
            self.wake,
        )


def load_config() -> dict[str, Any]:
    """Rule configuration: ``RISK_RULES_CONFIG`` (a JSON object, from the template parameter)."""
    raw = settings().risk_rules_config
    if not raw:
        return {}
    config = json.loads(raw)
    if not isinstance(config, dict):
        raise ValueError("RISK_RULES_CONFIG must be a JSON object keyed by rule id")
    return config


def fmt_int(n: float) -> str:
    return f"{round(n):,}"


# ------------------------------------------------------------------ helpers for rule test cases
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def rec(kind: str, minutes_ago: float = 0, **fields: Any) -> Rec:
    """A record ``minutes_ago`` before the cases' fixed now (ids derived from the fields)."""
    at = NOW - timedelta(minutes=minutes_ago)
    rid = f"r{abs(hash((kind, minutes_ago, tuple(sorted(map(str, fields.items())))))) % 10**10}"
    return Rec(record_id=rid, kind=kind, at=at, **fields)


def hours_of(count: int, n: int, start_days_ago: int = 13) -> dict[str, int]:
    """``n`` hourly volumes of ``count`` spread over the past days (a phone's history)."""
    base = NOW - timedelta(days=start_days_ago)
    return {(base + timedelta(hours=3 * i)).strftime("%Y%m%d%H"): count for i in range(n)}
