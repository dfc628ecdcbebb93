"""The non-key routes of §Security webhooks: read the endpoint, its deliveries, redeliver one."""

from __future__ import annotations

from typing import Any

from wabaguard.errors import InvalidRequest, NotFound
from wabaguard.people.access import require_account, valid_id
from wabaguard.people.principal import Principal
from wabaguard.webhooks import deliveries, endpoints

MAX_LIMIT = 100


def endpoint(principal: Principal, account_id: str) -> dict[str, Any]:
    account = require_account(principal, account_id, user_only=True)
    current = endpoints.load(account.account_id)
    if current is None or not endpoints.registered(current):
        raise NotFound(f"{account.name} has no security webhook")
    return endpoints.view(current)


def recent(principal: Principal, account_id: str, limit: str | None) -> dict[str, Any]:
    account = require_account(principal, account_id, user_only=True)
    try:
        n = int(limit) if limit is not None else 50
    except ValueError:
        raise InvalidRequest("limit", f"must be an integer from 1 to {MAX_LIMIT}") from None
    if not 1 <= n <= MAX_LIMIT:
        raise InvalidRequest("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return {"deliveries": deliveries.recent(account.account_id, n)}


def redeliver(principal: Principal, account_id: str, delivery_id: str) -> dict[str, Any]:
    """Queue one delivery again (an admin's decision: it makes wabaguard call the endpoint)."""
    account = require_account(principal, account_id, admin=True, user_only=True)
    if not delivery_id.startswith("msg_") or not valid_id(delivery_id):
        raise NotFound(f"delivery {delivery_id} does not exist")
    view, keys = deliveries.redeliver(account.account_id, delivery_id)
    deliveries.kick(keys)
    return view
