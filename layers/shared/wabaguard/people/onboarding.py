"""Onboarding (§API): ops create a Client account — its WABA, phone numbers and first admin — or a
Partner, in one transaction. The first admin is emailed an invite (``people.invites``); nobody
else ever sees their token.

Meta's ids are unique across wabaguard (a WABA or phone number belongs to one account), settled by
does-not-exist conditions on their pointer items in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from wabaguard import clock
from wabaguard.errors import Conflict, InvalidRequest, NotFound
from wabaguard.models import (
    Account,
    Link,
    PhoneNumber,
    account_pk,
    condition_failed,
    display_phone_pk,
    iso,
    managed_sk,
    meta_phone_pk,
    phone_link_sk,
    system_change,
    transaction,
    waba_pk,
)
from wabaguard.people.access import load_account
from wabaguard.people.invites import invited_user
from wabaguard.security import new_id
from wabaguard.watch import schedule as watch_schedule

META_SK = "META"


def onboard(request: Any, ops_identity: str, now: datetime | None = None) -> dict[str, Any]:
    """Create what ``request`` (a validated ``schemas.Onboard``) describes; 201 body."""
    now = now or clock.utcnow()
    if request.kind == "partner" and (request.waba_id or request.partner_id or request.phone_numbers):
        raise InvalidRequest("kind", "a Partner has no WABA, Partner or phone numbers of its own")
    if request.kind == "client" and (request.meta_business_id or request.meta_app_id):
        raise InvalidRequest("kind", "meta_business_id and meta_app_id name a Partner at Meta; a Client has a waba_id")
    if request.kind == "client" and not request.waba_id:
        raise InvalidRequest("waba_id", "is required for a Client account (Meta's WhatsApp Business Account id)")
    digits = [p.display_phone_number for p in request.phone_numbers]
    metas = [p.meta_phone_number_id for p in request.phone_numbers]
    if len(set(digits)) != len(digits) or len(set(metas)) != len(metas):
        raise InvalidRequest("phone_numbers", "lists a phone number twice")
    if request.partner_id:
        try:
            partner = load_account(request.partner_id)
        except NotFound:
            raise InvalidRequest("partner_id", f"{request.partner_id} is not an onboarded Partner") from None
        if partner.kind != "partner":
            raise InvalidRequest("partner_id", f"{request.partner_id} is not a Partner")

    account_id = new_id("prt" if request.kind == "partner" else "acc")
    account = Account(
        *Account.key(account_id),
        account_id=account_id,
        name=request.name,
        kind=request.kind,
        partner_id=request.partner_id,
        waba_id=request.waba_id,
        meta_business_id=request.meta_business_id,
        meta_app_id=request.meta_app_id,
        under_review=False,
        active_admins=1,
        created_at=iso(now),
    )
    welcome = system_change("user_added", now, f"ops ({ops_identity})")
    admin = invited_user(account, request.admin.email, "admin", now, welcome)
    phones: list[dict[str, Any]] = []
    try:
        with transaction() as tx:
            tx.save(account, condition=Account.pk.does_not_exist())
            tx.save(admin, condition=admin.__class__.pk.does_not_exist())
            if request.partner_id:
                managed = Link(account_pk(request.partner_id), managed_sk(account_id), target_id=account_id)
                managed.display = request.name
                tx.save(managed)
            if request.waba_id:
                tx.save(_unique(waba_pk(request.waba_id), account_id), condition=Link.pk.does_not_exist())
                watch_schedule.enroll_into(tx, account_id, request.waba_id, now)  # §WABA watch: baseline soon
            for p in request.phone_numbers:
                pn = new_id("pn")
                display = p.display or f"+{p.display_phone_number}"
                tx.save(
                    PhoneNumber(
                        *PhoneNumber.key(pn),
                        phone_number_id=pn,
                        account_id=account_id,
                        display=display,
                        meta_phone_number_id=p.meta_phone_number_id,
                        display_phone_number=p.display_phone_number,
                        profile={},
                    ),
                    condition=PhoneNumber.pk.does_not_exist(),
                )
                tx.save(Link(account_pk(account_id), phone_link_sk(pn), target_id=pn, display=display))
                tx.save(_unique(meta_phone_pk(p.meta_phone_number_id), pn), condition=Link.pk.does_not_exist())
                tx.save(_unique(display_phone_pk(p.display_phone_number), pn), condition=Link.pk.does_not_exist())
                phones.append(
                    {
                        "phone_number_id": pn,
                        "display": display,
                        "meta_phone_number_id": p.meta_phone_number_id,
                        "display_phone_number": p.display_phone_number,
                    }
                )
    except TransactWriteError as exc:
        if condition_failed(exc):
            taken = "the WABA or one of the phone numbers is onboarded already (Meta's ids are unique)"
            raise Conflict(taken) from None
        raise
    return {
        "account": {
            "account_id": account_id,
            "name": request.name,
            "kind": request.kind,
            "partner_id": request.partner_id,
            "waba_id": request.waba_id,
            "meta_business_id": request.meta_business_id,
            "meta_app_id": request.meta_app_id,
            "created_at": iso(now),
        },
        "phone_numbers": phones,
        "admin": {
            "user_id": admin.user_id,
            "email": admin.email,
            "role": "admin",
            "access": "invited",
            "invite": {"status": "emailed", "to": admin.email, "valid_for": "7 days"},
        },
        "note": "The admin is emailed an invite: its page shows them their own access token, once. Nobody "
        "else ever sees it.",
    }


def _unique(pk: str, target_id: str) -> Link:
    return Link(pk, META_SK, target_id=target_id)


