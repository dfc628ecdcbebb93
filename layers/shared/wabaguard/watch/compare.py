"""What changed at Meta between two reads of a WABA, and which of it wabaguard did (§WABA watch).

Pure functions over the JSON state of ``watch.reads``. Only what someone *does* at Meta is
compared: apps subscribed and their callback override, phone numbers, their webhook override,
display name and status, people with access and their tasks, templates. Meta's own moves — a
template's review status or category, a number's quality rating, name review or code verification
— are kept to explain, never flagged (Meta's webhooks tell of them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

HIGH, MEDIUM = "high", "medium"


@dataclass(frozen=True)
class Difference:
    """One thing that is not as it was."""

    area: str  # app | app_override | phone | phone_webhook | phone_name | phone_status | user | user_tasks | template
    key: str  # Meta's id (app, phone, user) or "name|language" (template)
    change: str  # added | removed | changed
    before: str | None
    after: str | None
    severity: str
    words: str  # what happened, for people

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _shown(url: dict[str, str] | None) -> str | None:
    return url.get("shown") if isinstance(url, dict) else None


def _digest_of(url: dict[str, str] | None) -> str | None:
    return url.get("sha256") if isinstance(url, dict) else None


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """The part of a state that counts as drift when it changes (what the digest covers)."""
    users = state.get("users")
    return {
        "apps": {k: _digest_of(v.get("override_callback_uri")) for k, v in (state.get("apps") or {}).items()},
        "phones": {
            k: [v.get("verified_name"), v.get("status"), _digest_of(v.get("webhook"))]
            for k, v in (state.get("phones") or {}).items()
        },
        "users": None if users is None else {k: v.get("tasks") or [] for k, v in users.items()},
        "templates": sorted((state.get("templates") or {}).keys()),
    }


def digest(state: dict[str, Any]) -> str:
    """Compares two reads cheaply: equal digests, nothing to look at."""
    canonical = json.dumps(comparable(state), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _name(entry: dict[str, Any] | None, key: str) -> str:
    name = (entry or {}).get("name")
    return f"{name} (id {key})" if name else f"id {key}"


def _phone(entry: dict[str, Any] | None, key: str) -> str:
    shown = (entry or {}).get("display_phone_number")
    return f"{shown} (id {key})" if shown else f"id {key}"


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """Every difference between two reads, highest severity first."""
    out: list[Difference] = []
    b_apps, a_apps = before.get("apps") or {}, after.get("apps") or {}
    for key in sorted(a_apps.keys() - b_apps.keys()):
        override = _shown(a_apps[key].get("override_callback_uri"))
        tail = f", with its webhooks sent to {override}" if override else ""
        out.append(
            Difference("app", key, "added", None, _name(a_apps[key], key), HIGH,
                       f"the app {_name(a_apps[key], key)} was subscribed to the WABA's webhooks{tail}")
        )  # fmt: skip
    for key in sorted(b_apps.keys() - a_apps.keys()):
        out.append(
            Difference("app", key, "removed", _name(b_apps[key], key), None, HIGH,
                       f"the app {_name(b_apps[key], key)} was unsubscribed from the WABA's webhooks")
        )  # fmt: skip
    for key in sorted(a_apps.keys() & b_apps.keys()):
        was, now = b_apps[key].get("override_callback_uri"), a_apps[key].get("override_callback_uri")
        if _digest_of(was) != _digest_of(now):
            out.append(
                Difference("app_override", key, "changed", _shown(was), _shown(now), HIGH,
                           f"the callback override of the app {_name(a_apps[key], key)} (where the WABA's "
                           f"messages go) was changed")
            )  # fmt: skip
    b_ph, a_ph = before.get("phones") or {}, after.get("phones") or {}
    for key in sorted(a_ph.keys() - b_ph.keys()):
        out.append(
            Difference("phone", key, "added", None, _phone(a_ph[key], key), HIGH,
                       f"the phone number {_phone(a_ph[key], key)} was added to the WABA")
        )  # fmt: skip
    for key in sorted(b_ph.keys() - a_ph.keys()):
        out.append(
            Difference("phone", key, "removed", _phone(b_ph[key], key), None, HIGH,
                       f"the phone number {_phone(b_ph[key], key)} was removed from the WABA")
        )  # fmt: skip
    for key in sorted(a_ph.keys() & b_ph.keys()):
        was, now = b_ph[key], a_ph[key]
        if _digest_of(was.get("webhook")) != _digest_of(now.get("webhook")):
            out.append(
                Difference("phone_webhook", key, "changed", _shown(was.get("webhook")), _shown(now.get("webhook")),
                           HIGH, f"the webhook override of {_phone(now, key)} (where its messages go) was changed")
            )  # fmt: skip
        if was.get("verified_name") != now.get("verified_name"):
            out.append(
                Difference("phone_name", key, "changed", was.get("verified_name"), now.get("verified_name"), MEDIUM,
                           f"the display name of {_phone(now, key)} was changed")
            )  # fmt: skip
        if was.get("status") != now.get("status"):
            out.append(
                Difference("phone_status", key, "changed", was.get("status"), now.get("status"), MEDIUM,
                           f"the status of {_phone(now, key)} at WhatsApp changed")
            )  # fmt: skip
    b_users, a_users = before.get("users"), after.get("users")
    if b_users is not None and a_users is not None:
        for key in sorted(a_users.keys() - b_users.keys()):
            tasks = ", ".join(a_users[key].get("tasks") or []) or "no tasks listed"
            out.append(
                Difference("user", key, "added", None, f"{_name(a_users[key], key)}: {tasks}", HIGH,
                           f"{_name(a_users[key], key)} ({a_users[key].get('user_type') or 'user'}) was given "
                           f"access to the WABA ({tasks})")
            )  # fmt: skip
        for key in sorted(b_users.keys() - a_users.keys()):
            out.append(
                Difference("user", key, "removed", _name(b_users[key], key), None, HIGH,
                           f"the access of {_name(b_users[key], key)} to the WABA was removed")
            )  # fmt: skip
        for key in sorted(a_users.keys() & b_users.keys()):
            was_t, now_t = b_users[key].get("tasks") or [], a_users[key].get("tasks") or []
            if was_t != now_t:
                out.append(
                    Difference("user_tasks", key, "changed", ", ".join(was_t) or "(none)",
                               ", ".join(now_t) or "(none)", HIGH,
                               f"what {_name(a_users[key], key)} may do in the WABA was changed")
                )  # fmt: skip
    b_tpl, a_tpl = before.get("templates") or {}, after.get("templates") or {}
    for key in sorted(a_tpl.keys() - b_tpl.keys()):
        t = a_tpl[key]
        out.append(
            Difference("template", key, "added", None, f"{t['name']} ({t['language']}, {t.get('category')})", MEDIUM,
                       f"the message template {t['name']} ({t['language']}) was created at Meta")
        )  # fmt: skip
    for key in sorted(b_tpl.keys() - a_tpl.keys()):
        t = b_tpl[key]
        out.append(
            Difference("template", key, "removed", f"{t['name']} ({t['language']})", None, MEDIUM,
                       f"the message template {t['name']} ({t['language']}) was deleted at Meta")
        )  # fmt: skip
    return sorted(out, key=lambda d: d.severity != HIGH)


@dataclass(frozen=True)
class Applied:
    """Something wabaguard itself did at Meta since the last read, that may explain a difference."""

    area: str  # template | phone_webhook | app
    key: str  # "name|language", Meta's phone id, Meta's app id
    change: str  # added | removed | changed
    url_sha256: str | None = None  # phone_webhook: the URL wabaguard set
    what: str = ""  # in words: "the template change plc_… approved in wabaguard"


def explained_by(diff: Difference, applied: list[Applied], after: dict[str, Any]) -> Applied | None:
    """The change of wabaguard's that explains a difference, or None (then it is drift)."""
    for a in applied:
        if a.area != diff.area or a.key != diff.key or a.change != diff.change:
            continue
        if diff.area == "phone_webhook":
            now = ((after.get("phones") or {}).get(diff.key) or {}).get("webhook")
            if a.url_sha256 != _digest_of(now):
                continue  # wabaguard set another URL than the one Meta now has
        return a
    return None


def severity_of(diffs: list[Difference]) -> str:
    return HIGH if any(d.severity == HIGH for d in diffs) else MEDIUM
