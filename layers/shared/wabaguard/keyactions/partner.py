"""Moving a WABA to another Partner (§Partner change): the request, and a second admin's approval.
What happens after — the cooling-off, cancelling, the submission — is ``wabaguard.partner_change``."""

from __future__ import annotations

from datetime import datetime

from wabaguard import clock, partner_change
from wabaguard.activity import RequestMeta
from wabaguard.errors import Conflict, InvalidRequest, NotFound, UnknownPartner
from wabaguard.keyactions.work import Outcome, Prepared, Work
from wabaguard.models import Account
from wabaguard.people.access import load_account, partner_name
from wabaguard.people.principal import Principal
from wabaguard.urls import without_links


def words_request_partner_change(prep: Prepared) -> str:
    model, account = prep.body, prep.account
    target = _require_partner(model.target_partner_id, account)
    partner_change.require_none_open(account.account_id)
    wait = clock.in_words(partner_change.cooling_off().total_seconds())
    words = (
        f"Move {account.name} to the Partner {target.name}, submitted after a cooling-off of {wait} "
        "unless someone cancels it"
    )
    if model.reason:
        words += f' (the requester\'s reason, links removed: "{without_links(model.reason)}")'
    return words


def words_approve_partner_change(prep: Prepared) -> str:
    request = partner_change.load(prep.account.account_id, prep.params["request_id"])
    partner_change.check_approvable(request, prep.principal, prep.account)
    return (
        f"Approve moving {prep.account.name} to the Partner {partner_name(request.target_partner_id)}, requested "
        f"by {request.requested_by} {clock.for_people(request.created_at)}"
    )


def _require_partner(partner_id: str, account: Account) -> Account:
    """The target must be a Partner wabaguard knows (404 ``unknown_partner``: the BSP onboards a
    Partner before anyone can move a WABA to it, so a typo or a scammer's id goes nowhere), and
    not the current one (400). Checked before a code is sent."""
    if account.kind != "client":
        raise InvalidRequest("path", "only Client accounts change Partner")
    if account.partner_id == partner_id:
        raise InvalidRequest("body.target_partner_id", f"{account.name} is already managed by {partner_id}")
    try:
        target = load_account(partner_id)
    except NotFound:
        raise UnknownPartner(f"body.target_partner_id: {partner_id} is not a Partner wabaguard knows") from None
    if target.kind != "partner":
        raise UnknownPartner(f"body.target_partner_id: {partner_id} is not a Partner wabaguard knows")
    return target


def do_request_partner_change(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    """The request waits in COOLING_OFF (§Partner change); the scheduled run submits it."""
    change = work.change(p, "partner_change_requested", meta, now)
    work.conflict = lambda: Conflict("another Partner change request was opened meanwhile; nothing was changed")
    out = partner_change.request(work.tx, p, prep.account, prep.body.target_partner_id, prep.body.reason, change, now)
    return 201, out, {"detail": f"to {prep.body.target_partner_id}"}


def do_approve_partner_change(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    request = partner_change.load(prep.account.account_id, prep.params["request_id"])
    work.conflict = lambda: Conflict("the Partner change request changed meanwhile (cancelled, or approved); try again")
    change = work.change(p, "partner_change_approved", meta, now)
    out = partner_change.approve(work.tx, request, p, change, now)
    return 200, out, {"detail": f"{request.request_id} to {request.target_partner_id}"}
