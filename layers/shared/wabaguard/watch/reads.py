"""Reading one WABA's state at Meta (§WABA watch): the five Graph reads of the contract, every
page followed, within a budget of calls.

The state is plain JSON, keyed by Meta's ids, so two reads compare key by key and a difference
can be told in words. Only what the watch compares or explains is kept: never a token, never a
template's components, a callback URL only as shown to people and as a digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from wabaguard.urls import display_url
from wabaguard.whatsapp.graph import Graph, Outcome

PHONE_KEPT = (
    "display_phone_number",
    "verified_name",
    "status",
    "name_status",
    "quality_rating",
    "code_verification_status",
)
PHONE_FIELDS = ",".join(("id", *PHONE_KEPT))
TEMPLATE_FIELDS = "name,language,status,category"
USER_FIELDS = "id,name,user_type,tasks"
PAGE_LIMIT = 100  # Meta's largest page for these edges
MAX_PAGES = 20  # per edge and read: 2,000 templates or users is more than any WABA we watch


class OutOfCalls(Exception):
    """The run's budget of Graph calls is spent: the read stops, nothing is written, the WABA
    keeps its turn for the next run."""


class ReadFailed(Exception):
    """Meta refused or did not answer one call of the read."""

    def __init__(self, outcome: Outcome, path: str) -> None:
        super().__init__(f"{path}: {outcome.kind} {outcome.code or outcome.status}: {outcome.detail}")
        self.outcome = outcome
        self.path = path


@dataclass
class Budget:
    """Graph calls left in this run (bounded per run, §WABA watch)."""

    left: int
    made: int = 0

    def take(self) -> None:
        if self.left <= 0:
            raise OutOfCalls()
        self.left -= 1
        self.made += 1


def _get(graph: Graph, budget: Budget, path: str, query: dict[str, str]) -> dict[str, Any]:
    budget.take()
    outcome = graph.call("GET", path, None, query)
    if not outcome.applied:
        raise ReadFailed(outcome, path)
    return outcome.body


def pages(graph: Graph, budget: Budget, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a Graph edge, following ``paging.cursors.after`` while Meta says there is a
    ``next`` page (the cursor, not the ``next`` URL: calls go only to the configured Graph API)."""
    items: list[dict[str, Any]] = []
    params = dict(query)
    for _ in range(MAX_PAGES):
        body = _get(graph, budget, path, params)
        data = body.get("data")
        items += [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
        paging = body.get("paging")
        paging = paging if isinstance(paging, dict) else {}
        cursors = paging.get("cursors")
        after = cursors.get("after") if isinstance(cursors, dict) else None
        if not paging.get("next") or not isinstance(after, str) or not after or after == params.get("after"):
            return items
        params["after"] = after
    return items


def _s(value: Any, limit: int = 300) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:limit] or None


def _url(value: Any) -> dict[str, str] | None:
    """A callback URL as the watch keeps it: what people may be shown (a query string may carry a
    secret, so it is masked) and a digest of the whole URL, which is what is compared."""
    url = _s(value, 2048)
    if not url:
        return None
    return {"shown": display_url(url) or "", "sha256": hashlib.sha256(url.encode()).hexdigest()}


def _app(item: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """One subscribed app. Meta answers ``{"whatsapp_business_api_data": {id, name, link},
    "override_callback_uri"?}``; its OpenAPI description also allows a flat ``{id, name}``."""
    data = item.get("whatsapp_business_api_data")
    data = data if isinstance(data, dict) else item
    return _s(data.get("id"), 64), {
        "name": _s(data.get("name"), 200),
        "override_callback_uri": _url(item.get("override_callback_uri")),
    }


def read_state(graph: Graph, budget: Budget, waba_id: str, business_id: str | None) -> tuple[dict[str, Any], int]:
    """The WABA's state and the number of calls it took. ``business_id`` (the Partner's business
    portfolio at Meta) is what ``assigned_users`` must be asked with; without one, people with
    access are not read (``users`` is None) and so never compared."""
    before = budget.made
    apps: dict[str, Any] = {}
    for item in pages(graph, budget, f"/{waba_id}/subscribed_apps", {}):
        app_id, app = _app(item)
        if app_id:
            apps[app_id] = app
    phones: dict[str, Any] = {}
    for item in pages(graph, budget, f"/{waba_id}/phone_numbers", {"fields": PHONE_FIELDS, "limit": str(PAGE_LIMIT)}):
        phone_id = _s(item.get("id"), 64)
        if phone_id:
            phones[phone_id] = {k: _s(item.get(k)) for k in PHONE_KEPT}
    for phone_id, phone in sorted(phones.items()):
        body = _get(graph, budget, f"/{phone_id}", {"fields": "webhook_configuration"})
        config = body.get("webhook_configuration")
        phone["webhook"] = _url(config.get("phone_number")) if isinstance(config, dict) else None
    users: dict[str, Any] | None = None
    if business_id:
        users = {}
        query = {"business": business_id, "fields": USER_FIELDS, "limit": str(PAGE_LIMIT)}
        for item in pages(graph, budget, f"/{waba_id}/assigned_users", query):
            user_id = _s(item.get("id"), 64)
            if user_id:
                tasks = item.get("tasks")
                users[user_id] = {
                    "name": _s(item.get("name"), 200),
                    "user_type": _s(item.get("user_type"), 32),
                    "tasks": sorted(str(t)[:64] for t in tasks) if isinstance(tasks, list) else [],
                }
    templates: dict[str, Any] = {}
    query = {"fields": TEMPLATE_FIELDS, "limit": str(PAGE_LIMIT)}
    for item in pages(graph, budget, f"/{waba_id}/message_templates", query):
        name, language = _s(item.get("name"), 512), _s(item.get("language"), 16)
        if name and language:
            templates[f"{name}|{language}"] = {
                "name": name,
                "language": language,
                "category": _s(item.get("category"), 32),
                "status": _s(item.get("status"), 32),
            }
    state = {"apps": apps, "phones": phones, "users": users, "templates": templates}
    return state, budget.made - before
