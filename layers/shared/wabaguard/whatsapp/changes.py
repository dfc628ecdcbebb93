"""Approved changes on their way to WhatsApp: written with the approval, applied once, in order.

The key action's transaction writes a ``PlatformChange`` next to its own item, so an approval and
its way to Meta are one fact: a crash after the approval loses nothing. ``platform_apply`` picks it
up from the stream at once, and from the ``by_due`` index when a retry is due (or a worker died
holding it). A worker claims a change by moving its ``due_at`` past a lease (a conditional write),
so two workers never call Meta for the same change at once; changes of one resource (a phone's
profile, its webhook) reach Meta in the order they were approved.

Never twice: profile and webhook calls set values (the same call twice is the same state); a
template created at Meta whose answer we lost is found again by name and language instead of
being created a second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from wabaguard import activity, clock, due
from wabaguard.aws import kms_decrypt, kms_encrypt
from wabaguard.due import Tally
from wabaguard.keyactions.registry import APPLIED_AT_META
from wabaguard.models import (
    MessageTemplate,
    PlatformChange,
    account_pk,
    condition_failed,
    iso,
    platform_prefix,
    platform_sk,
    system_change,
    template_sk,
    transaction,
)
from wabaguard.security import new_id
from wabaguard.whatsapp.graph import Graph, Outcome

DUE = "platform"
ACTIONS = APPLIED_AT_META  # what the registry declares is applied at Meta
LEASE = timedelta(seconds=90)  # longer than one Graph call with its timeout
# Backoff after the n-th failed attempt (capped at the last), scaled down locally.
BACKOFF_S = (10, 30, 60, 120, 300, 600, 1800, 3600)
GIVE_UP_AFTER = timedelta(hours=24)
DUPLICATE_TEMPLATE = 2388024  # Meta's subcode: a template with this name and language exists


def backoff(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed attempts."""
    return clock.retry_delay(BACKOFF_S[min(max(attempts, 1), len(BACKOFF_S)) - 1])


# Microsecond ISO time (activity's): sortable, so ``by_due`` and a resource's changes keep their order.
stamp = activity.precise


def resource_of(action: str, ref: str) -> str:
    return {"create_template": "template", "update_profile": "profile", "set_webhook_url": "webhook"}[
        action
    ] + f":{ref}"


# ------------------------------------------------------------------ written by the key action
def enqueue(
    tx: TransactWrite,
    account_id: str,
    action: str,
    ref: str,
    path: str,
    body: dict[str, Any],
    now: datetime,
    secret: str | None = None,
) -> dict[str, Any]:
    """Add the Graph call of an approved key action to the action's transaction; returns the
    ``platform`` object its answer carries. ``secret`` (a webhook's verify token) is stored
    encrypted, apart from the body, and joins the call only when it is made."""
    change_id = new_id("plc")
    at = stamp(now)
    resource = resource_of(action, ref)
    item = PlatformChange(
        account_pk(account_id),
        platform_sk(resource, at, change_id),
        change_id=change_id,
        account_id=account_id,
        action=action,
        resource=resource,
        path=path,
        body=body,
        secret_enc=kms_encrypt(secret, _context(change_id)) if secret else None,
        status="pending",
        created_at=iso(now),
        due=DUE,
        due_at=at,
    )
    tx.save(item, condition=PlatformChange.pk.does_not_exist())
    return {"status": "pending", "detail": PENDING_WORDS, "change_id": change_id, "updated_at": iso(now)}


def _context(change_id: str) -> dict[str, str]:
    return {"change_id": change_id, "purpose": "verify_token"}


PENDING_WORDS = "on its way to WhatsApp; GET this resource to see when it is applied"


def view(change: PlatformChange | None) -> dict[str, Any] | None:
    """The ``platform`` object of §Platform: ``{status, detail}`` (+ when and which change)."""
    if change is None:
        return None
    detail = change.detail
    if change.status == "pending":
        detail = f"not applied yet, retrying: {change.detail}" if change.detail else PENDING_WORDS
    return {
        "status": change.status,
        "detail": detail,
        "change_id": change.change_id,
        "updated_at": change.updated_at or change.created_at,
    }


def latest(account_id: str, resource: str) -> PlatformChange | None:
    """The newest change of a resource (what its ``GET`` shows)."""
    for change in PlatformChange.query(
        account_pk(account_id),
        PlatformChange.sk.startswith(platform_prefix(resource)),
        scan_index_forward=False,
        limit=1,
    ):
        return change
    return None


def newest(*changes: PlatformChange | None) -> PlatformChange | None:
    present = [c for c in changes if c is not None]
    return max(present, key=lambda c: c.sk.rsplit("#", 2)[1]) if present else None


def of_account(account_id: str) -> dict[str, PlatformChange]:
    """Every resource's newest change in one query (the templates list)."""
    out: dict[str, PlatformChange] = {}
    for change in PlatformChange.query(account_pk(account_id), PlatformChange.sk.startswith("PLATFORM#")):
        out[change.resource] = change  # ascending: the newest of each resource wins
    return out


# ------------------------------------------------------------------ the applier
@dataclass
class Summary(Tally):
    """What one run of the applier did (the handler turns it into metrics)."""

    applied: int = 0
    failed: int = 0
    retried: int = 0
    config_errors: int = 0
    waited: int = 0  # an older change of the same resource goes first
    skipped: int = 0  # claimed elsewhere, or no longer pending


GraphFactory = Callable[[], Graph]


def due_changes(now: datetime, limit: int = 100) -> list[PlatformChange]:
    """Pending changes whose time has come, oldest first."""
    return due.due(PlatformChange, DUE, now, limit)


def run_due(graph: GraphFactory, now: datetime | None = None, budget_s: float = 50.0) -> Summary:
    """Apply every change that is due (the schedule's run), within ``budget_s`` seconds."""
    now = now or clock.utcnow()
    started = clock.now()
    total = Summary()
    for change in due_changes(now):
        if clock.now() - started > budget_s:
            break
        total.add(apply(change.pk, change.sk, graph, now))
    return total


def apply(pk: str, sk: str, graph: GraphFactory, now: datetime | None = None) -> Summary:
    """Claim one change and make its Graph call; record what Meta answered."""
    now = now or clock.utcnow()
    out = Summary()
    change = _claim(pk, sk, now)
    if change is None:
        out.skipped = 1
        return out
    older = _older_pending(change)
    if older is not None:
        wait_until = max(activity.parse_at(older.due_at) if older.due_at else now, now) + timedelta(seconds=1)
        _release(change, wait_until, attempts_back=True)
        out.waited = 1
        return out
    outcome = _call(change, graph)
    if outcome.kind == "permanent" and change.action == "create_template" and outcome.subcode == DUPLICATE_TEMPLATE:
        if change.attempts > 1:  # an earlier attempt may have created it and lost the answer
            outcome = _find_template(change, graph) or outcome
        else:
            outcome.detail = "a template with this name and language already exists in the WhatsApp Business Account"
    if outcome.applied:
        _applied(change, outcome, now)
        out.applied = 1
    elif outcome.kind == "permanent":
        _failed(change, outcome.detail, now)
        out.failed = 1
    elif now - activity.parse_at(change.created_at) >= GIVE_UP_AFTER:
        _failed(change, f"WhatsApp did not accept the change within 24 hours ({outcome.detail})", now)
        out.failed = 1
    else:
        _release(change, now + backoff(int(change.attempts)), detail=outcome.detail)
        if outcome.kind == "config":
            out.config_errors = 1
        else:
            out.retried = 1
    out.outcomes.append({"change_id": change.change_id, "action": change.action, "outcome": outcome.kind})
    return out


def _claim(pk: str, sk: str, now: datetime) -> PlatformChange | None:
    """Take a pending, due change for one lease; None when another worker has it or it is done."""
    return due.claim(PlatformChange, pk, sk, now, LEASE, PlatformChange.status == "pending")


def _older_pending(change: PlatformChange) -> PlatformChange | None:
    for other in PlatformChange.query(
        change.pk,
        PlatformChange.sk.between(platform_prefix(change.resource), change.sk),
        filter_condition=PlatformChange.status == "pending",
    ):
        if other.sk < change.sk:
            return other
    return None


def _release(change: PlatformChange, due_at: datetime, detail: str | None = None, attempts_back: bool = False) -> None:
    actions: list[Any] = [PlatformChange.due_at.set(stamp(due_at))]
    if detail is not None:
        actions += [PlatformChange.detail.set(detail[:500]), PlatformChange.updated_at.set(iso(clock.utcnow()))]
    if attempts_back:
        actions.append(PlatformChange.attempts.add(-1))
    change.update(actions=actions, condition=PlatformChange.status == "pending")


def _call(change: PlatformChange, graph: GraphFactory) -> Outcome:
    body = json.loads(json.dumps(change.body))  # a copy: the secret never goes back into the item
    if change.secret_enc:
        body.setdefault("webhook_configuration", {})["verify_token"] = kms_decrypt(
            change.secret_enc, _context(change.change_id)
        )
    try:
        client = graph()
    except Exception as exc:  # noqa: BLE001 - no token (yet): the provider must configure it; the change waits
        return Outcome("config", detail=f"the Graph API client is not configured ({exc})")
    return client.call(change.method, change.path, body)


def _find_template(change: PlatformChange, graph: GraphFactory) -> Outcome | None:
    """The template an earlier attempt created, by name and language (Meta's list filter)."""
    name, language = change.body.get("name"), change.body.get("language")
    waba = change.path.strip("/").split("/")[0]
    found = graph().call(
        "GET", f"/{waba}/message_templates", None, {"name": str(name), "fields": "id,name,language,status,category"}
    )
    if not found.applied:
        return None
    for tpl in found.body.get("data") or []:
        if isinstance(tpl, dict) and tpl.get("name") == name and tpl.get("language") == language:
            return Outcome(
                "applied", 200, {"id": tpl.get("id"), "status": tpl.get("status"), "category": tpl.get("category")}
            )
    return None


def _finish(
    change: PlatformChange,
    status: str,
    detail: str,
    now: datetime,
    actions: list[Any],
    also: Callable[[TransactWrite], None] | None = None,
) -> None:
    """End a change (its status, out of ``by_due``) in one transaction with ``also``'s writes, then
    record the outcome in the audit log. Another worker having ended it (its lease ran out while
    Meta was slow) is not an error: nothing is written or audited twice. Without ``also`` the one
    conditional update is as atomic as a transaction, at half its write units (issue 26)."""
    ending = [
        PlatformChange.status.set(status),
        PlatformChange.detail.set(detail[:500]),
        *actions,
        PlatformChange.due.remove(),
        PlatformChange.due_at.remove(),
        PlatformChange.updated_at.set(iso(clock.utcnow())),
    ]
    pending = PlatformChange.status == "pending"
    try:
        if also is None:
            change.update(actions=ending, condition=pending)
        else:
            with transaction() as tx:
                tx.update(change, actions=ending, condition=pending)
                also(tx)
    except (UpdateError, TransactWriteError) as exc:
        if condition_failed(exc):
            return
        raise
    _audit(change, status, detail, now)


def _applied(change: PlatformChange, outcome: Outcome, now: datetime) -> None:
    result = {k: v for k, v in outcome.body.items() if k in ("id", "status", "category", "success")}

    def template_reached_meta(tx: TransactWrite) -> None:
        template_id = change.resource.split(":", 1)[1]
        tx.update(
            MessageTemplate(account_pk(change.account_id), template_sk(template_id)),
            actions=[
                MessageTemplate.meta_template_id.set(str(result.get("id") or "")),
                MessageTemplate.status.set(str(result.get("status") or "PENDING")),
                MessageTemplate.status_at.set(iso(now)),
            ],
            condition=MessageTemplate.pk.exists(),
        )

    also = template_reached_meta if change.action == "create_template" else None
    _finish(change, "applied", "applied to WhatsApp", now, [PlatformChange.result.set(result)], also)


def _failed(change: PlatformChange, detail: str, now: datetime) -> None:
    """Meta refused (or never took) the change: marked failed, every user told, in the audit log."""
    told = system_change("platform_failed", now, "WhatsApp (Meta)", change.change_id)
    _finish(change, "failed", detail, now, [PlatformChange.last_change.set(told)])


def _audit(change: PlatformChange, status: str, detail: str, now: datetime) -> None:
    kind, _, ref = change.resource.partition(":")
    phone = ref if kind in ("profile", "webhook") else None
    activity.record(
        change.account_id,
        "platform_change",
        at=now,
        action=change.action,
        phone_number_id=phone,
        detail=f"{status}: {detail}"[:500],
    )
