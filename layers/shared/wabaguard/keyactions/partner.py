"""Moving a WABA to another Partner (§Partner change): the request, and a second admin's approval.
What happens after — the cooling-off, cancelling, the submission — is ``wabaguard.partner_change``."""

from __future__ import annotations

from datetime import datetime

from wabaguard import partner_change
from wabaguard.activity import RequestMeta
from wabaguard.errors import Conflict, InvalidRequest, NotFound
from wabaguard.keyactions.work import Outcome, Prepared, Work
from wabaguard.models import Account
from wabaguard.people.access import load_account
from wabaguard.people.principal import Principal, change_record
from wabaguard.urls import without_links


def words_request_partner_change(prep: Prepared) -> str:
    model, account = prep.body, prep.account
    _require_partner(model.target_partner_id, account)
    partner_change.require_none_open(account.account_id)
    hours = partner_change.cooling_off().total_seconds() / 3600
    words = (
        f"Move {account.name} to Partner {model.target_partner_id}, submitted after a cooling-off of "
        f"{hours:g} hour(s) unless someone cancels it"
    )
    if model.reason:
        words += f' (the requester\'s reason, links removed: "{without_links(model.reason)}")'
    return words


def words_approve_partner_change(prep: Prepared) -> str:
    request = partner_change.load(prep.account.account_id, prep.params["request_id"])
    partner_change.check_approvable(request, prep.principal, prep.account)
    return (
        f"Approve moving {prep.account.name} to Partner {request.target_partner_id}, requested by "
        f"{request.requested_by} at {request.created_at}"
    )


def _require_partner(partner_id: str, account: Account) -> None:
    """The target must not be the current Partner, nor a known account that is no Partner.

    Partners the BSP has not onboarded into wabaguard are unknown here and still valid targets:
    the request is reviewed by the BSP, and every user and the current Partner's admins are told.
    """
    if account.kind != "client":
        raise InvalidRequest("path", "only Client accounts change Partner")
    if account.partner_id == partner_id:
        raise Conflict(f"{account.name} is already managed by {partner_id}")
    try:
        target = load_account(partner_id)
    except NotFound:
        return
    if target.kind != "partner":
        raise InvalidRequest("body.target_partner_id", f"{partner_id} is not a Partner")


def do_request_partner_change(
    p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work
) -> Outcome:
    """The request waits in COOLING_OFF (§Partner change); the scheduled run submits it."""
    change = change_record(p, "partner_change_requested", meta, now)
    work.conflict = lambda: Conflict("another Partner change request was opened meanwhile; nothing was changed")
    out = partner_change.request(work.tx, p, prep.account, prep.body.target_partner_id, prep.body.reason, change, now)
    return 201, out, {"detail": f"to {prep.body.target_partner_id}"}


def do_approve_partner_change(
    p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work
) -> Outcome:
    request = partner_change.load(prep.account.account_id, prep.params["request_id"])
    work.conflict = lambda: Conflict("the Partner change request changed meanwhile (cancelled, or approved); try again")
    change = change_record(p, "partner_change_approved", meta, now)
    out = partner_change.approve(work.tx, request, p, change, now)
    return 200, out, {"detail": f"{request.request_id} to {request.target_partner_id}"}
