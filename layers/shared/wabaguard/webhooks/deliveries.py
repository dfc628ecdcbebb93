"""Security events on their way to customers' systems: addressed once, delivered at least once.

The notifier turns each change into an event and addresses it (``enqueue``): one
``WebhookDelivery`` per URL — the account's endpoint, its managing Partner's endpoint, and for a
changed phone webhook the *old* URL. A delivery's id is derived from the change and the URL, and
written only if absent, so a stream record seen twice addresses nothing twice; it is also the
``webhook-id`` of every attempt, so a receiver can drop a repeat.

``security_webhook`` attempts deliveries at once (the notifier invokes it) and every minute the
ones whose retry is due (``by_due``, as the platform changes do). An attempt claims its delivery
by moving ``due_at`` past a lease, signs the stored payload with the endpoint's secrets (Standard
Webhooks, via the ``standardwebhooks`` library) and POSTs through ``outbound`` (SSRF guard). 2xx
is delivered; anything else is retried on the schedule of §Security webhooks; 410, or a delivery
that exhausts the schedule, disables the endpoint and its admins are told.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import urllib3
from pynamodb.exceptions import PutError, UpdateError
from standardwebhooks import Webhook

from wabaguard import activity, clock, due, outbound
from wabaguard.aws import invoke_async
from wabaguard.config import settings
from wabaguard.due import Tally
from wabaguard.errors import Conflict, NotFound, RateLimited
from wabaguard.models import (
    Account,
    AccountsItem,
    RequestWindow,
    SecurityWebhook,
    WebhookDelivery,
    account_pk,
    condition_failed,
    delivery_sk,
    iso,
    redeliver_window_pk,
)
from wabaguard.urls import display_url
from wabaguard.webhooks import endpoints

if TYPE_CHECKING:
    from wabaguard.webhooks import events

DUE = "webhook"
LEASE = timedelta(seconds=60)  # longer than one attempt's 10 s budget
# Waits after the 1st, 2nd, … failed attempt: 8 attempts over about 27 hours.
SCHEDULE_S = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(SCHEDULE_S) + 1
KEEP = timedelta(days=30)
LOG_SIZE = 10
USER_AGENT = "wabaguard-security-events/1"

Post = Callable[[str, bytes, dict[str, str]], int]


def delivery_id(change_id: str, at: str, target: str) -> str:
    """The ``webhook-id``: sortable by the change's time, unique per change and destination."""
    digest = base64.b32encode(hashlib.sha256(f"{change_id}|{target}".encode()).digest()).decode()[:20].lower()
    return "msg_" + "".join(ch for ch in at if ch.isdigit())[:14] + digest


# ------------------------------------------------------------------ addressing (the notifier)
def enqueue(
    old: AccountsItem | None, new: AccountsItem, account: Account, summary: str, now: datetime
) -> list[tuple[str, str]]:
    """Address the event of a change to every URL that should hear of it; returns the keys of the
    deliveries written now (already written ones — a redelivered stream record — are skipped)."""
    owners = [account.account_id] + ([account.partner_id] if account.partner_id else [])
    listening: list[str] = []  # the owners whose endpoint hears of it
    for owner in dict.fromkeys(owners):
        endpoint = endpoints.load(owner)
        if endpoints.registered(endpoint) and endpoint is not None and endpoint.status == "active":
            listening.append(owner)
    before = getattr(old, "webhook_url", None) if isinstance(old, AccountsItem) else None
    old_url = before if before and before != getattr(new, "webhook_url", None) else None
    replaced = isinstance(new, SecurityWebhook) and isinstance(old, SecurityWebhook)
    if not (listening or old_url or replaced):
        return []  # nobody hears of it: the event is not built
    # here, not at the top: the events' pydantic models stay off the notifier's cold start
    from wabaguard.webhooks import events

    event = events.build(old, new, account, summary)
    if event is None:
        return []
    lc = new.last_change
    assert lc is not None
    written: list[tuple[str, str]] = []
    if isinstance(new, SecurityWebhook) and isinstance(old, SecurityWebhook):
        written += _to_previous_endpoint(old, new, account, event, now)
    for owner in listening:
        item = _item(owner, account, event, lc.change_id, lc.at, f"endpoint:{owner}", event.payload(), None, now)
        written += _put(item)
    if event.type == "webhook_url.changed" and old_url:
        target = f"old_url:{old_url}"
        item = _item(account.account_id, account, event, lc.change_id, lc.at, target, event.for_old_url(), old_url, now)
        written += _put(item)
    return written


def _to_previous_endpoint(
    old: SecurityWebhook, new: SecurityWebhook, account: Account, event: events.Event, now: datetime
) -> list[tuple[str, str]]:
    """When an endpoint is replaced by another URL or removed, the one that was listening is told
    first, signed with the secret it knows: a hijacker cannot silently redirect the security feed."""
    replaced = new.status == "removed" or (new.url or "") != (old.url or "")
    if not (replaced and old.status == "active" and old.url and old.secret_enc):
        return []
    lc = new.last_change
    assert lc is not None
    target = f"previous_endpoint:{old.url}"
    item = _item(old.account_id, account, event, lc.change_id, lc.at, target, event.payload(), old.url, now)
    item.signing_secret_enc = old.secret_enc  # the endpoint item forgets it; this delivery signs with it
    return _put(item)


def _item(
    owner: str,
    account: Account,
    event: events.Event,
    change_id: str,
    at: str,
    target: str,
    payload: str,
    url: str | None,
    now: datetime,
) -> WebhookDelivery:
    """One delivery; ``target`` is ``<kind>:<where>`` (endpoint, old_url, previous_endpoint), the
    key its id is derived from."""
    did = delivery_id(change_id, at, target)
    return WebhookDelivery(
        account_pk(owner),
        delivery_sk(did),
        delivery_id=did,
        account_id=owner,
        subject_account_id=account.account_id,
        target=target.partition(":")[0],
        url=url,
        event_type=event.type,
        change_id=change_id,
        payload=payload,
        status="pending",
        created_at=iso(now),
        due=DUE,
        due_at=activity.precise(now),
        ttl=now + KEEP,
    )


def _put(item: WebhookDelivery) -> list[tuple[str, str]]:
    try:
        item.save(condition=WebhookDelivery.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return []
        raise
    return [(item.pk, item.sk)]


# ------------------------------------------------------------------ attempts
@dataclass
class Summary(Tally):
    """What one run did, for metrics."""

    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    disabled: int = 0
    skipped: int = 0


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed attempts (scaled down locally)."""
    return clock.retry_delay(SCHEDULE_S[min(max(attempts, 1), len(SCHEDULE_S)) - 1])


def signature(payload: str, msg_id: str, at: datetime, secrets: list[str]) -> str:
    """``webhook-signature``: one ``v1,<base64>`` per secret that signs now, space-separated."""
    return " ".join(Webhook(secret).sign(msg_id, at, payload) for secret in secrets)


def headers_for(delivery: WebhookDelivery, secrets: list[str], at: datetime) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
    }
    if secrets:
        headers["webhook-signature"] = signature(delivery.payload, delivery.delivery_id, at, secrets)
    return headers


def _default_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return outbound.post(url, body, headers)


def attempt(pk: str, sk: str, now: datetime | None = None, post: Post = _default_post) -> Summary:
    """Claim one delivery and make one attempt; record the answer and what follows from it."""
    now = now or clock.utcnow()
    out = Summary()
    delivery = _claim(pk, sk, now)
    if delivery is None:
        out.skipped = 1
        return out
    endpoint = endpoints.load(delivery.account_id)
    if delivery.target == "endpoint":
        if not endpoints.registered(endpoint) or endpoint is None or endpoint.status != "active":
            state = "removed" if not endpoints.registered(endpoint) else "disabled"
            _end(delivery, "cancelled", f"endpoint {state}", now, counted=False)
            out.skipped = 1
            return out
        url = str(endpoint.url)
    else:
        url = str(delivery.url)
    if delivery.target == "previous_endpoint" and delivery.signing_secret_enc:
        secrets = [endpoints.decrypt_secret(delivery.account_id, delivery.signing_secret_enc)]
    elif endpoints.registered(endpoint) and endpoint:
        # The old URL of a phone webhook is signed with the account's secret when it has one.
        secrets = endpoints.signing_secrets(endpoint, now)
    else:
        secrets = []
    status = _send(url, delivery, secrets, now, post)
    out.outcomes.append({"delivery_id": delivery.delivery_id, "type": delivery.event_type, "status": status})
    if status.isdigit() and 200 <= int(status) < 300:
        _end(delivery, "delivered", status, now)
        out.delivered = 1
        return out
    out.failed_attempts = 1
    gone = status == "410"
    if gone or int(delivery.attempts) >= MAX_ATTEMPTS:
        reason = (
            "the endpoint answered 410 Gone"
            if gone
            else f"no attempt of an event was accepted in {MAX_ATTEMPTS} tries over a day (last: {status})"
        )
        _end(delivery, "failed", status, now)
        out.gave_up = 1
        if delivery.target == "endpoint" and endpoints.disable(delivery.account_id, url, reason, now):
            out.disabled = 1
        return out
    _retry_later(delivery, status, now)
    return out


def _send(url: str, delivery: WebhookDelivery, secrets: list[str], now: datetime, post: Post) -> str:
    """One POST; the outcome in words fit for the delivery log (never the answer's body)."""
    try:
        return str(post(url, delivery.payload.encode(), headers_for(delivery, secrets, now)))
    except outbound.Refused as exc:
        return f"refused: {exc}"
    except urllib3.exceptions.NewConnectionError:  # (a ConnectTimeoutError subclass in urllib3: first)
        return "connection refused or unreachable"
    except urllib3.exceptions.TimeoutError:
        return "timeout"
    except urllib3.exceptions.SSLError:
        return "TLS error"
    except urllib3.exceptions.HTTPError as exc:
        return f"connection failed ({type(exc).__name__})"
    except OSError as exc:
        return f"connection failed ({type(exc).__name__})"


def _claim(pk: str, sk: str, now: datetime) -> WebhookDelivery | None:
    return due.claim(WebhookDelivery, pk, sk, now, LEASE, WebhookDelivery.status == "pending")


def _logged(delivery: WebhookDelivery, status: str, now: datetime) -> list[Any]:
    log = [*(delivery.log or []), {"at": iso(now), "status": status}][-LOG_SIZE:]
    return [
        WebhookDelivery.log.set(log),
        WebhookDelivery.last_status.set(status[:200]),
        WebhookDelivery.last_attempt_at.set(iso(now)),
        WebhookDelivery.updated_at.set(iso(now)),
    ]


def _end(delivery: WebhookDelivery, status: str, detail: str, now: datetime, counted: bool = True) -> None:
    actions = [
        WebhookDelivery.status.set(status),
        WebhookDelivery.due.remove(),
        WebhookDelivery.due_at.remove(),
        *_logged(delivery, detail, now),
    ]
    if not counted:
        actions.append(WebhookDelivery.attempts.add(-1))
    _update_pending(delivery, actions)


def _retry_later(delivery: WebhookDelivery, status: str, now: datetime) -> None:
    due = now + backoff(int(delivery.attempts))
    _update_pending(delivery, [WebhookDelivery.due_at.set(activity.precise(due)), *_logged(delivery, status, now)])


def _update_pending(delivery: WebhookDelivery, actions: list[Any]) -> None:
    """Write an attempt's outcome, unless another worker ended the delivery meanwhile."""
    try:
        delivery.update(actions=actions, condition=WebhookDelivery.status == "pending")
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def attempt_all(keys: list[tuple[str, str]], post: Post = _default_post, workers: int = 8) -> Summary:
    """Attempt several deliveries at once (one slow receiver must not hold up the others), at most
    ``workers`` at a time. Daemon threads, joined here: an attempt never outlives its budget in the
    invocation, and a stuck one cannot keep a process from exiting (an executor's threads would)."""
    total = Summary()
    results: list[Summary] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    for start in range(0, len(keys), workers):
        threads = []
        for pk, sk in keys[start : start + workers]:
            context = contextvars.copy_context()  # Powertools' logger keys, the local IAM role

            def one(pk: str = pk, sk: str = sk, context: contextvars.Context = context) -> None:
                try:
                    out = context.run(attempt, pk, sk, None, post)
                except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
                    with lock:
                        failures.append(exc)
                    return
                with lock:
                    results.append(out)

            thread = threading.Thread(target=one, daemon=True, name="delivery")
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    for out in results:
        total.add(out)
    return total


def run_due(post: Post = _default_post, budget_s: float = 50.0) -> Summary:
    """The schedule's run: every delivery whose attempt is due, in rounds, within ``budget_s``."""
    started = clock.now()
    total = Summary()
    while clock.now() - started < budget_s:
        batch = [(d.pk, d.sk) for d in due.due(WebhookDelivery, DUE, clock.utcnow(), limit=50)]
        if not batch:
            break
        run = attempt_all(batch, post)
        total.add(run)
        if run.skipped == len(batch):
            break  # all claimed elsewhere
    return total


# ------------------------------------------------------------------ what users see and do
def view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "type": delivery.event_type,
        "target": delivery.target,
        "url": display_url(delivery.url) if delivery.url else None,
        "subject_account_id": delivery.subject_account_id,
        "status": delivery.status,
        "attempts": int(delivery.attempts or 0),
        "last_status": delivery.last_status,
        "last_attempt_at": delivery.last_attempt_at,
        "next_attempt_at": iso(activity.parse_at(delivery.due_at))
        if delivery.status == "pending" and delivery.due_at
        else None,
        "created_at": delivery.created_at,
        "log": list(delivery.log or []),
    }


def recent(account_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest deliveries of an account's endpoint (and of its phones' old URLs)."""
    found = WebhookDelivery.query(
        account_pk(account_id), WebhookDelivery.sk.startswith("DELIVERY#"), scan_index_forward=False, limit=limit
    )
    return [view(d) for d in found if isinstance(d, WebhookDelivery)]


def redeliver(
    account_id: str, delivery_id_: str, now: datetime | None = None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Send one delivery again, with the same ``webhook-id`` (a receiver that kept it may drop it)."""
    now = now or clock.utcnow()
    try:
        delivery = WebhookDelivery.get(account_pk(account_id), delivery_sk(delivery_id_))
    except WebhookDelivery.DoesNotExist:
        raise NotFound(f"delivery {delivery_id_} does not exist") from None
    if delivery.target != "endpoint":
        # A phone's old URL, or a replaced endpoint, is no place an admin may make wabaguard call
        # again at will (it may be anyone's): only what went to the current endpoint is redelivered.
        raise Conflict(
            "only deliveries to the account's current security webhook can be redelivered; this one went to "
            + ("a phone number's former webhook URL" if delivery.target == "old_url" else "a replaced endpoint")
        )
    endpoint = endpoints.load(account_id)
    if not endpoints.registered(endpoint) or endpoint is None:
        raise Conflict("the account has no security webhook; register one with PUT …/security-webhook")
    if endpoint.status != "active":
        raise Conflict("the security webhook is disabled; PUT its URL again (a key action) to enable it")
    _count_redelivery(account_id, now)
    try:
        delivery.update(
            actions=[
                WebhookDelivery.status.set("pending"),
                WebhookDelivery.attempts.set(0),
                WebhookDelivery.due.set(DUE),
                WebhookDelivery.due_at.set(activity.precise(now)),
                WebhookDelivery.updated_at.set(iso(now)),
                WebhookDelivery.ttl.set(now + KEEP),
            ],
            condition=WebhookDelivery.pk.exists(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotFound(f"delivery {delivery_id_} does not exist") from None
        raise
    return view(delivery), [(delivery.pk, delivery.sk)]


REDELIVERIES_PER_HOUR = 5


def _count_redelivery(account_id: str, now: datetime) -> None:
    """At most a few redeliveries an hour per account (one atomic ADD each): a redelivery makes
    wabaguard call a URL, so it must not become a loop anyone can drive."""
    hour = int(now.timestamp()) // 3600
    window = RequestWindow(redeliver_window_pk(account_id, hour))
    window.update(
        actions=[
            RequestWindow.item_type.set(RequestWindow),  # type: ignore[arg-type]  # typed like a save
            RequestWindow.requests.add(1),
            RequestWindow.ttl.set(datetime.fromtimestamp((hour + 2) * 3600, tz=UTC)),
        ]
    )
    if int(window.requests) > REDELIVERIES_PER_HOUR:
        retry = (hour + 1) * 3600 - int(now.timestamp())
        raise RateLimited(
            f"at most {REDELIVERIES_PER_HOUR} redeliveries an hour per account; try again in {retry} s",
            retry_after=retry,
        )


def kick(keys: list[tuple[str, str]]) -> bool:
    """Ask ``security_webhook`` to attempt these now (asynchronously). If it cannot be asked, the
    one-minute schedule finds them in ``by_due``: nothing is lost, only later."""
    name = settings().security_webhook_function
    if not keys or not name:
        return False
    try:
        invoke_async(name, {"deliveries": [list(k) for k in keys]})
    except Exception:  # noqa: BLE001 - the schedule is the safety net
        return False
    return True


__all__ = ["SecurityWebhook", "attempt", "enqueue", "kick", "recent", "redeliver", "run_due"]
