"""Partner change (§Partner change): the strongest guard for the most dangerous action.

A request waits in ``COOLING_OFF`` (24 h by default) before it is submitted; every user of the
account and the current Partner's admins are told, each with a single-use cancel link, and any admin
of the account or of its Partner may cancel it (no OTP: cancelling protects). With two or more
active admins, another admin of the account must approve it (a key action of its own); without
that approval within 7 days of the cooling-off it expires. The scheduled run submits what is due,
never while the account is under review.

Every transition is one conditional transaction on ``status = COOLING_OFF`` (the submission also
checks, in the same transaction, that the account is not under review), so cancel, approve and
submit racing each other leave exactly one outcome; at most one request per account is open (an
``OpenPartnerChange`` marker written only if absent). The timeline is appended to, never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from wabaguard import activity, clock, due
from wabaguard.activity import RequestMeta
from wabaguard.aws import client
from wabaguard.config import API_STAGE, settings
from wabaguard.due import Tally
from wabaguard.errors import Conflict, Forbidden, NotFound
from wabaguard.models import (
    META,
    Account,
    CancelLink,
    ChangeRecord,
    OpenPartnerChange,
    PartnerChangeRequest,
    TimelineEntry,
    account_pk,
    cancel_link_pk,
    condition_failed,
    iso,
    live_link,
    partner_change_open_sk,
    partner_change_sk,
    system_change,
    transaction,
)
from wabaguard.pages import LinkPage
from wabaguard.people.access import (
    account_or_none,
    active_users,
    load_account,
    managed_accounts,
    partner_name,
    require_account,
    valid_id,
)
from wabaguard.people.principal import Principal, change_by, change_record
from wabaguard.security import new_id, new_token, token_digest
from wabaguard.urls import without_links

DUE = "partner_change"
ANNOUNCE = "partner_change_event"  # submitted, its EventBridge event not yet accepted
EVENT_SOURCE = "wabaguard"
EVENT_DETAIL_TYPE = "Partner change submitted"
EVENT_BUS = "default"  # the account's default bus: the BSP's rules route it (README)
OPEN = "COOLING_OFF"
APPROVAL_WINDOW = timedelta(days=7)  # after the cooling-off, for the second admin's approval
REVIEW_RECHECK = timedelta(minutes=5)
DELIVERY_RECHECK = timedelta(minutes=1)  # §Mail delivery: waiting for a delivered notice
LEASE = timedelta(seconds=60)
SYSTEM = "wabaguard"


def cooling_off() -> timedelta:
    """The template's ``PartnerChangeCoolingOffSeconds`` (``PARTNER_CHANGE_COOLING_OFF_S``)."""
    return timedelta(seconds=settings().partner_change_cooling_off_s)


def _entry(at: datetime, event: str, by: str, detail: str | None = None) -> TimelineEntry:
    return TimelineEntry(at=iso(at), event=event, by=by, detail=detail)


def view(req: PartnerChangeRequest) -> dict[str, Any]:
    return {
        "request_id": req.request_id,
        "account_id": req.account_id,
        "status": req.status,
        "current_partner_id": req.current_partner_id,
        "target_partner_id": req.target_partner_id,
        "reason": req.reason,
        "requested_by": req.requested_by,
        "created_at": req.created_at,
        "submit_after": req.submit_after,
        "needs_approval": bool(req.needs_approval),
        "approved_by": req.approved_by,
        "approved_at": req.approved_at,
        "ended_at": req.ended_at,
        "timeline": [e.as_dict() for e in (req.timeline or [])],
    }


def open_request(account_id: str) -> str | None:
    """The id of the account's open request, if any."""
    try:
        return str(
            OpenPartnerChange.get(account_pk(account_id), partner_change_open_sk(), consistent_read=True).request_id
        )
    except OpenPartnerChange.DoesNotExist:
        return None


def require_none_open(account_id: str) -> None:
    """At most one open request: the second is refused before a code is sent."""
    current = open_request(account_id)
    if current:
        raise Conflict(f"Partner change request {current} is still open; cancel it before asking for another")


def _admin_ids(account: Account) -> set[str]:
    return {u.user_id for u in active_users(account.account_id) if u.role == "admin"}


def request(
    tx: TransactWrite,
    principal: Principal,
    account: Account,
    target_partner_id: str,
    reason: str | None,
    change: ChangeRecord,
    now: datetime,
) -> dict[str, Any]:
    """Add a new request (and the account's open marker) to the key action's transaction."""
    request_id = new_id("pcr")
    submit_after = now + cooling_off()
    admins = _admin_ids(account)
    needs = len(admins) >= 2
    approvers = admins - {principal.user_id or ""}
    by = principal.email or principal.user_id or "unknown"
    words = f"to {target_partner_id}; submitted after {iso(submit_after)}" + (
        " once another admin approves" if needs else ""
    )
    item = PartnerChangeRequest(
        account_pk(account.account_id),
        partner_change_sk(request_id),
        request_id=request_id,
        account_id=account.account_id,
        current_partner_id=account.partner_id,
        target_partner_id=target_partner_id,
        reason=reason,
        status=OPEN,
        created_at=iso(now),
        requested_by=by,
        requested_by_user_id=principal.user_id,
        submit_after=iso(submit_after),
        needs_approval=needs,
        approvers=approvers or None,
        timeline=[_entry(now, "requested", by, words)],
        due=DUE,
        due_at=due.stamp(submit_after + APPROVAL_WINDOW if needs else submit_after),
        last_change=change,
    )
    tx.save(item, condition=PartnerChangeRequest.pk.does_not_exist())
    marker = OpenPartnerChange(account_pk(account.account_id), partner_change_open_sk(), request_id=request_id)
    tx.save(marker, condition=OpenPartnerChange.pk.does_not_exist())
    return view(item)


def load(account_id: str, request_id: str) -> PartnerChangeRequest:
    if not valid_id(request_id):
        raise NotFound(f"Partner change request {request_id} does not exist")
    try:
        return PartnerChangeRequest.get(account_pk(account_id), partner_change_sk(request_id), consistent_read=True)
    except PartnerChangeRequest.DoesNotExist:
        raise NotFound(f"Partner change request {request_id} does not exist") from None


def list_requests(principal: Principal, account_id: str) -> dict[str, Any]:
    account = require_account(principal, account_id, user_only=True)
    found = PartnerChangeRequest.query(account_pk(account.account_id), PartnerChangeRequest.sk.startswith("PCR#"))
    items = sorted((r for r in found if isinstance(r, PartnerChangeRequest)), key=lambda r: r.created_at, reverse=True)
    return {"requests": [view(r) for r in items]}


def _not_open(req: PartnerChangeRequest) -> Conflict:
    current = load(req.account_id, req.request_id)
    when = f" at {current.ended_at}" if current.ended_at else ""
    return Conflict(f"Partner change request {req.request_id} is {current.status}{when}; nothing was changed")


# ------------------------------------------------------------------ approval (a key action)
def check_approvable(req: PartnerChangeRequest, principal: Principal, account: Account) -> None:
    """Another admin *of the account* than the requester, while the request waits for it."""
    if req.status != OPEN:
        raise Conflict(f"Partner change request {req.request_id} is {req.status}; there is nothing to approve")
    if not req.needs_approval:
        raise Conflict("this request needs no approval: the account had a single active admin when it was made")
    if req.approved_by:
        raise Conflict(f"this request was approved already by {req.approved_by}")
    if principal.account_id != account.account_id or not principal.is_admin:
        raise Forbidden(f"only an admin of {account.name} may approve its Partner change")
    if principal.user_id and principal.user_id == req.requested_by_user_id:
        raise Forbidden("the requester cannot approve their own Partner change; another admin must")
    if not principal.user_id or principal.user_id not in (req.approvers or set()):
        raise Forbidden(
            f"only someone who already was an admin of {account.name} when the request was made may approve it"
        )


def approve(
    tx: TransactWrite, req: PartnerChangeRequest, principal: Principal, change: ChangeRecord, now: datetime
) -> dict[str, Any]:
    """Record the second admin's approval; the request becomes due at the end of its cooling-off."""
    by = principal.email or principal.user_id or "unknown"
    submit_after = activity.parse_at(str(req.submit_after))
    tx.update(
        req,
        actions=[
            PartnerChangeRequest.approved_by.set(by),
            PartnerChangeRequest.approved_at.set(iso(now)),
            PartnerChangeRequest.due_at.set(due.stamp(max(submit_after, now))),
            PartnerChangeRequest.timeline.set(PartnerChangeRequest.timeline.append([_entry(now, "approved", by)])),
            PartnerChangeRequest.last_change.set(change),
        ],
        condition=(PartnerChangeRequest.status == OPEN)
        & PartnerChangeRequest.approvers.contains(principal.user_id or "-")
        & PartnerChangeRequest.approved_by.does_not_exist()
        & (PartnerChangeRequest.needs_approval == True),  # noqa: E712 - a DynamoDB condition, not a test
    )
    req.approved_by, req.approved_at = by, iso(now)
    req.timeline = [*(req.timeline or []), _entry(now, "approved", by)]
    return view(req)


# ------------------------------------------------------------------ endings
def _end(
    req: PartnerChangeRequest,
    status: str,
    entry: TimelineEntry,
    change: ChangeRecord,
    now: datetime,
    meta: RequestMeta | None = None,
    user_id: str | None = None,
    also: Any = None,
) -> bool:
    """End an open request in one transaction: its status, out of ``by_due``, the open marker
    gone, the audit record; ``also`` adds writes (a link's use, the review check). False when the
    request was no longer open (another ending won)."""
    try:
        with transaction() as tx:
            end_into(tx, req, status, entry, change, now, meta, user_id)
            if also is not None:
                also(tx)
    except TransactWriteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def end_into(
    tx: TransactWrite,
    req: PartnerChangeRequest,
    status: str,
    entry: TimelineEntry,
    change: ChangeRecord,
    now: datetime,
    meta: RequestMeta | None = None,
    user_id: str | None = None,
) -> None:
    """The writes that end an open request, added to ``tx`` (conditioned on it being open)."""
    meta = meta or RequestMeta()
    # A submitted request stays due, as ANNOUNCE: its EventBridge event goes out after this
    # transaction, retried every run until EventBridge accepts it (never lost, at least once).
    waiting: list[Any] = (
        [PartnerChangeRequest.due.set(ANNOUNCE), PartnerChangeRequest.due_at.set(due.stamp(now))]
        if status == "SUBMITTED"
        else [PartnerChangeRequest.due.remove(), PartnerChangeRequest.due_at.remove()]
    )
    tx.update(
        req,
        actions=[
            PartnerChangeRequest.status.set(status),
            PartnerChangeRequest.ended_at.set(iso(now)),
            *waiting,
            PartnerChangeRequest.timeline.set(PartnerChangeRequest.timeline.append([entry])),
            PartnerChangeRequest.last_change.set(change),
        ],
        condition=PartnerChangeRequest.status == OPEN,
    )
    tx.delete(
        OpenPartnerChange(account_pk(req.account_id), partner_change_open_sk()),
        condition=OpenPartnerChange.request_id == req.request_id,
    )
    tx.save(
        activity.build(
            req.account_id,
            "partner_change",
            now,
            action=entry.event,
            detail=f"{req.request_id} to {req.target_partner_id}: {entry.event} by {entry.by}"[:500],
            user_id=user_id,
            ip=meta.ip,
            user_agent=meta.user_agent,
            country=meta.country,
            request_id=meta.request_id,
        )
    )


def requested_by(user_id: str, account: Account) -> list[PartnerChangeRequest]:
    """The open requests a user made: on their own account, or — for a Partner user — on the
    Clients the Partner manages."""
    accounts = managed_accounts(account.account_id) if account.kind == "partner" else [account]
    found = []
    for acc in accounts:
        request_id = open_request(acc.account_id)
        if request_id:
            req = load(acc.account_id, request_id)
            if req.status == OPEN and req.requested_by_user_id == user_id:
                found.append(req)
    return found


def cancel_for_removed_requester(
    tx: TransactWrite,
    user_id: str,
    email: str,
    account: Account,
    change: Callable[[], ChangeRecord],
    meta: RequestMeta,
    now: datetime,
) -> list[str]:
    """A request whose requester is removed is cancelled, in the removal's own transaction: nobody
    is left to answer for it. ``change`` makes the audit's who/where (the remover). Returns the ids."""
    ended = []
    for req in requested_by(user_id, account):
        record = change()
        words = f"the requester {email} was removed from the account"
        end_into(tx, req, "CANCELLED", _entry(now, "cancelled", record.by_email or SYSTEM, words), record, now, meta)
        ended.append(req.request_id)
    return ended


def cancel(
    principal: Principal, account_id: str, request_id: str, meta: RequestMeta, now: datetime | None = None
) -> dict[str, Any]:
    """``POST …/cancel``: an admin of the account or of its current Partner stops the request."""
    now = now or clock.utcnow()
    account = require_account(principal, account_id, admin=True, user_only=True)
    req = load(account.account_id, request_id)
    if req.status != OPEN:
        raise _not_open(req)
    by = principal.email or "unknown"
    change = change_record(principal, "partner_change_cancelled", meta, now)
    if not _end(req, "CANCELLED", _entry(now, "cancelled", by), change, now, meta, principal.user_id):
        raise _not_open(req)
    return view(load(account.account_id, request_id))


# ------------------------------------------------------------------ cancel links (in the notices)
def cancel_link(req: PartnerChangeRequest, recipient: str) -> str:
    """A recipient's own single-use link; valid while the request can still be submitted."""
    token = new_token("wgc")
    ends = activity.parse_at(str(req.submit_after)) + APPROVAL_WINDOW + timedelta(days=1)
    CancelLink(
        cancel_link_pk(token_digest(token)),
        account_id=req.account_id,
        request_id=req.request_id,
        recipient=recipient,
        ttl=ends,
    ).save(condition=CancelLink.pk.does_not_exist())
    return f"{settings().public_base_url}/{API_STAGE}/partner-change/cancel/{token}"


STATUS_WORDS = {
    "COOLING_OFF": "waiting out its cooling-off (it can be cancelled)",
    "SUBMITTED": "submitted",
    "CANCELLED": "cancelled",
    "EXPIRED": "expired",
}
NOT_VALID = "This link is unknown, expired, or its recipient no longer has access to the account."


def _link(token: str) -> CancelLink | None:
    """The link, while it lives. A recipient removed after the notice keeps it: cancelling only
    protects, and removing a person must not take away their one way to stop the request."""
    return live_link(CancelLink, cancel_link_pk, token, clock.utcnow())


def _facts(req: PartnerChangeRequest, account: Account) -> list[list[str]]:
    return [
        ["Account", account.name],
        ["Current Partner", partner_name(req.current_partner_id)],
        ["Requested Partner", partner_name(req.target_partner_id)],
        ["Requested by", req.requested_by or "unknown"],
        ["Requested", clock.for_people(req.created_at)],
        ["Submitted after", clock.for_people(req.submit_after)],
        ["Status", STATUS_WORDS.get(req.status, req.status)],
    ]


def link_page(token: str) -> LinkPage:
    """GET: the page only asks (mail scanners fetch links); it changes nothing."""
    link = _link(token)
    if link is None:
        return LinkPage(404, "Link not valid", [NOT_VALID])
    req = load(link.account_id, link.request_id)
    account = load_account(link.account_id)
    if req.status != OPEN:
        return _ended_page(req, account)
    return LinkPage(
        200,
        f"Cancel moving {account.name} to another Partner?",
        [
            f"{req.requested_by} asked to move the WhatsApp Business Account of {account.name} to the Partner "
            f"{partner_name(req.target_partner_id)}. It will be submitted {clock.for_people(req.submit_after)} "
            "unless someone cancels it.",
            "If you did not expect this, cancel it now; every user and the current Partner's admins are told.",
        ],
        button="Cancel this Partner change",
        facts=_facts(req, account),
    )


def _ended_page(req: PartnerChangeRequest, account: Account) -> LinkPage:
    return LinkPage(
        200, f"This Partner change is {req.status.lower()}", [_ended_words(req)], facts=_facts(req, account)
    )


def _ended_words(req: PartnerChangeRequest) -> str:
    last = (req.timeline or [])[-1:] or []
    who = f" by {last[0].by}" if last else ""
    return (
        f"The request was {req.status.lower()}{who}, {clock.for_people(req.ended_at)}; there is nothing left to cancel."
    )


def cancel_by_link(token: str, meta: RequestMeta, now: datetime | None = None) -> LinkPage:
    """POST: cancel, and use up the link, in one transaction."""
    now = now or clock.utcnow()
    link = _link(token)
    if link is None:
        return LinkPage(404, "Link not valid", [NOT_VALID])
    req = load(link.account_id, link.request_id)
    account = load_account(link.account_id)
    if link.used_at or req.status != OPEN:
        return _ended_page(req, account)
    change = change_by("partner_change_cancelled", meta, now, link.recipient)

    def use_link(tx: TransactWrite) -> None:
        tx.update(link, actions=[CancelLink.used_at.set(iso(now))], condition=CancelLink.used_at.does_not_exist())

    entry = _entry(now, "cancelled", link.recipient, "with the cancel link of a notice")
    if not _end(req, "CANCELLED", entry, change, now, meta, also=use_link):
        req = load(link.account_id, link.request_id)
        return _ended_page(req, account)
    req = load(link.account_id, link.request_id)
    return LinkPage(
        200,
        "The Partner change is cancelled",
        [
            f"Nothing will be submitted: {account.name} stays with its current Partner. Every user of the account "
            "and the Partner's admins are told who cancelled it.",
            "If you did not expect the request at all, someone may hold a user's credentials: ask your admin to "
            f"have every colleague replace their access token, and write to {settings().support_email}.",
        ],
        facts=_facts(req, account),
    )


# ------------------------------------------------------------------ the scheduled submission
@dataclass
class Summary(Tally):
    submitted: int = 0
    announced: int = 0  # EventBridge accepted the "Partner change submitted" event
    announce_failed: int = 0
    expired: int = 0
    held: int = 0  # under review, or still waiting for its time or its approval
    skipped: int = 0


def _release(req: PartnerChangeRequest, until: datetime, note: TimelineEntry | None = None) -> None:
    actions: list[Any] = [PartnerChangeRequest.due_at.set(due.stamp(until))]
    if note is not None:
        actions.append(PartnerChangeRequest.timeline.set(PartnerChangeRequest.timeline.append([note])))
    try:
        req.update(actions=actions, condition=PartnerChangeRequest.status == OPEN)
    except UpdateError as exc:  # ended meanwhile (cancelled): nothing to hold
        if not condition_failed(exc):
            raise


WAITING_WORDS = (
    "for a delivered notice: no admin other than the requester (of the account or of its current Partner) "
    "has received a notice of this request yet"
)


def notice_delivered(req: PartnerChangeRequest) -> bool:
    """§Mail delivery: someone other than the requester who could cancel it has the notice — an admin
    of the account or of its current Partner; where there is no such admin, the requester."""
    delivered = {e.lower() for e in (req.delivered_to or set())}
    requester = (req.requested_by or "").lower()
    admins = {
        u.email.lower()
        for owner in (req.account_id, req.current_partner_id)
        if owner
        for u in active_users(owner)
        if u.role == "admin"
    }
    others = admins - {requester}
    return bool(delivered & others) if others else requester in delivered


def process(pk: str, sk: str, now: datetime | None = None) -> Summary:
    """Claim one due request and submit, expire or hold it."""
    now = now or clock.utcnow()
    out = Summary()
    req = due.claim(PartnerChangeRequest, pk, sk, now, LEASE, PartnerChangeRequest.status == OPEN)
    if req is None:
        out.skipped = 1
        return out
    submit_after = activity.parse_at(str(req.submit_after))
    if req.needs_approval and not req.approved_by:
        expires = submit_after + APPROVAL_WINDOW
        if now < expires:
            _release(req, expires)
            out.held = 1
            return out
        entry = _entry(now, "expired", SYSTEM, "no other admin approved it within 7 days of the cooling-off")
        change = system_change("partner_change_expired", now, SYSTEM, ref=req.request_id)
        if _end(req, "EXPIRED", entry, change, now):
            out.expired = 1
        return out
    if now < submit_after:
        _release(req, submit_after)
        out.held = 1
        return out
    account = load_account(req.account_id, consistent=True)
    if not notice_delivered(req):
        if now >= submit_after + APPROVAL_WINDOW:  # the wait never outlasts the request: it expires, told
            why = "no admin other than the requester received a notice of it within 7 days of the cooling-off"
            entry = _entry(now, "expired", SYSTEM, why)
            change = system_change("partner_change_expired", now, SYSTEM, ref=req.request_id)
            if _end(req, "EXPIRED", entry, change, now):
                out.expired = 1
            return out
        waited = any(e.event == "waiting" for e in (req.timeline or []))
        note = None if waited else _entry(now, "waiting", SYSTEM, WAITING_WORDS)
        _release(req, now + DELIVERY_RECHECK, note)
        out.held = 1
        return out
    if account.under_review:
        held_before = any(e.event == "held" for e in (req.timeline or []))
        note = None if held_before else _entry(now, "held", SYSTEM, "the account is under review")
        _release(req, now + REVIEW_RECHECK, note)
        out.held = 1
        return out

    def not_under_review(tx: TransactWrite) -> None:
        tx.condition_check(Account, account_pk(req.account_id), META, condition=Account.under_review == False)  # noqa: E712

    entry = _entry(now, "submitted", SYSTEM, f"to {req.target_partner_id}")
    change = system_change("partner_change_submitted", now, SYSTEM, ref=req.request_id)
    if _end(req, "SUBMITTED", entry, change, now, also=not_under_review):
        out.submitted = 1
        out.add(announce(req.pk, req.sk, now))  # at once; the next runs retry it if EventBridge fails
    else:
        _release(req, now + REVIEW_RECHECK)  # a review began meanwhile (or it was cancelled): look again
        out.held = 1
    return out


def run_due(now: datetime | None = None, budget_s: float = 50.0) -> Summary:
    """The schedule's run: every request whose time has come."""
    now = now or clock.utcnow()
    started = clock.now()
    total = Summary()
    for req in due.due(PartnerChangeRequest, DUE, now):
        if clock.now() - started > budget_s:
            break
        total.add(process(req.pk, req.sk, now))
    for req in due.due(PartnerChangeRequest, ANNOUNCE, now):
        if clock.now() - started > budget_s:
            break
        total.add(announce(req.pk, req.sk, now))
    return total


def event_detail(req: PartnerChangeRequest) -> dict[str, Any]:
    """The detail of the "Partner change submitted" event: what the BSP needs to move the WABA."""
    account = load_account(req.account_id)
    target = account_or_none(req.target_partner_id)
    approvals = [{"by": req.approved_by, "at": req.approved_at}] if req.approved_by else []
    return {
        "request_id": req.request_id,
        "account": {"account_id": account.account_id, "name": account.name},
        "waba_id": account.waba_id,
        "from_partner": _partner_ref(req.current_partner_id),
        "to_partner": {
            **_partner_ref(req.target_partner_id),
            "meta_business_id": target.meta_business_id if target else None,
            "meta_app_id": target.meta_app_id if target else None,
        },
        "requested_by": req.requested_by,
        "requested_at": req.created_at,
        "cooling_off_ended_at": req.submit_after,
        "submitted_at": req.ended_at,
        "approvals": approvals,
        "reason": without_links(req.reason) if req.reason else None,
    }


def _partner_ref(partner_id: str | None) -> dict[str, Any]:
    partner = account_or_none(partner_id)
    return {"partner_id": partner_id, "name": partner.name if partner else None}


def announce(pk: str, sk: str, now: datetime | None = None) -> Summary:
    """Send a submitted request's EventBridge event (claimed with a lease, so two runs send it
    once between them); it leaves the index only when EventBridge accepted the entry."""
    now = now or clock.utcnow()
    out = Summary()
    waiting = (PartnerChangeRequest.status == "SUBMITTED") & (PartnerChangeRequest.due == ANNOUNCE)
    req = due.claim(PartnerChangeRequest, pk, sk, now, LEASE, waiting)
    if req is None:
        out.skipped = 1
        return out
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "Detail": json.dumps(event_detail(req), sort_keys=True),
        "Resources": [],
        "EventBusName": EVENT_BUS,
    }
    try:
        answer = client("events").put_events(Entries=[entry])
        accepted = not answer.get("FailedEntryCount") and bool(answer.get("Entries", [{}])[0].get("EventId"))
    except (BotoCoreError, ClientError):  # refused, throttled, unreachable: the same retry
        accepted = False
    if not accepted:  # the lease runs out and the next run tries again
        out.announce_failed = 1
        return out
    req.update(
        actions=[
            PartnerChangeRequest.announced_at.set(iso(now)),
            PartnerChangeRequest.due.remove(),
            PartnerChangeRequest.due_at.remove(),
        ],
        condition=PartnerChangeRequest.due == ANNOUNCE,
    )
    out.announced = 1
    return out
