"""The demo seed of §Local: one Partner managing two Client accounts, users and phone numbers, and
a second Partner (``other_partner``) that a Partner change may move a WABA to.

Written through the PynamoDB models (no ``last_change``, so seeding notifies nobody).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from wabaguard.models import (
    Account,
    Link,
    PhoneNumber,
    account_pk,
    display_phone_pk,
    iso,
    managed_sk,
    meta_phone_pk,
    phone_link_sk,
    waba_pk,
)
from wabaguard.people.users import new_user
from wabaguard.security import new_id


def create_account(
    name: str,
    kind: str = "client",
    partner_id: str | None = None,
    account_id: str | None = None,
    waba_id: str | None = None,
) -> Account:
    account_id = account_id or new_id("prt" if kind == "partner" else "acc")
    account = Account(
        *Account.key(account_id),
        account_id=account_id,
        name=name,
        kind=kind,
        partner_id=partner_id,
        waba_id=waba_id,
        under_review=False,
        created_at=iso(datetime.now(UTC)),
    )
    account.save(condition=Account.pk.does_not_exist())
    if partner_id:
        Link(account_pk(partner_id), managed_sk(account_id), target_id=account_id, display=name).save()
    if waba_id:
        Link(waba_pk(waba_id), "META", target_id=account_id).save(condition=Link.pk.does_not_exist())
    return account


def create_user(account: Account, email: str, role: str) -> dict[str, Any]:
    user, credential, token = new_user(account, email, role, datetime.now(UTC))
    user.save()
    credential.save()
    if role == "admin":
        account.update(actions=[Account.active_admins.add(1)])
    return {"user_id": user.user_id, "email": email, "role": role, "token": token}


def create_phone(
    account: Account,
    display: str,
    profile: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    meta_phone_number_id: str | None = None,
) -> dict[str, Any]:
    pn = new_id("pn")
    digits = "".join(ch for ch in display if ch.isdigit())
    meta_id = meta_phone_number_id or str(secrets.randbelow(10**15) + 10**14)
    PhoneNumber(
        *PhoneNumber.key(pn),
        phone_number_id=pn,
        account_id=account.account_id,
        display=display,
        meta_phone_number_id=meta_id,
        display_phone_number=digits,
        profile=profile or {},
        webhook_url=webhook_url,
    ).save()
    Link(account_pk(account.account_id), phone_link_sk(pn), target_id=pn, display=display).save()
    Link(meta_phone_pk(meta_id), "META", target_id=pn).save(condition=Link.pk.does_not_exist())
    Link(display_phone_pk(digits), "META", target_id=pn).save(condition=Link.pk.does_not_exist())
    return {"phone_number_id": pn, "display": display, "meta_phone_number_id": meta_id, "display_phone_number": digits}


def provision(graph: Any, account: Account, phones: list[dict[str, Any]], partner: Account) -> None:
    """Meta's side of an onboarded WABA (its numbers, the Partner's app subscribed, the Partner's
    system user with access), and wabaguard's watch of it, due now: the baseline is read at once."""
    from wabaguard.watch import schedule

    assert account.waba_id
    graph.provision(
        account.waba_id,
        [
            {"id": p["meta_phone_number_id"], "display_phone_number": p["display"], "verified_name": account.name}
            for p in phones
        ],
        app_id=partner.meta_app_id,
        app_name=f"{partner.name} WhatsApp app",
        users=[{"id": "5" + account.waba_id[1:], "name": f"{partner.name} system user", "user_type": "SYSTEM_USER",
                "tasks": ["MANAGE", "DEVELOP"]}],
    )  # fmt: skip
    schedule.enroll(account.account_id, account.waba_id)


def _waba_id() -> str:
    """A WABA id shaped like Meta's (15 digits), new every start so demos never collide."""
    return str(secrets.randbelow(9 * 10**14) + 10**14)


def seed_demo(api_url: str, graph: Any = None) -> dict[str, Any]:
    """Create the demo world and return it in the shape of ``.local/demo.json``. With ``graph``
    (the Graph stand-in), Meta holds the demo WABAs too, and wabaguard watches them (§WABA watch)."""
    partner = create_account("Northwind Partners", kind="partner")
    # how Meta's Partner webhooks name it: its business portfolio and its app
    partner.update(actions=[Account.meta_business_id.set(_waba_id()), Account.meta_app_id.set(_waba_id())])
    partner_admin = create_user(partner, "ops@northwind.test", "admin")
    # A second Partner the BSP knows: where a Partner change of the walk-through can move a WABA.
    other = create_account("Contoso Messaging", kind="partner")
    other.update(actions=[Account.meta_business_id.set(_waba_id())])
    other_admin = create_user(other, "ops@contoso.test", "admin")

    acme = create_account("Acme Shoes", partner_id=partner.account_id, waba_id=_waba_id())
    acme_users = [create_user(acme, "admin@acme.test", "admin"), create_user(acme, "member@acme.test", "member")]
    acme_phone = create_phone(
        acme,
        "+49 30 1234567",
        {"about": "Shoes for everyone", "websites": ["https://acme.test"]},
        "https://hooks.acme.test/wa",
    )

    globex = create_account("Globex", partner_id=partner.account_id, waba_id=_waba_id())
    globex_users = [create_user(globex, "admin@globex.test", "admin")]
    globex_phone = create_phone(
        globex, "+1 415 555 0100", {"about": "Globex Corporation"}, "https://hooks.globex.test/wa"
    )

    if graph is not None:
        for account, phones in ((acme, [acme_phone]), (globex, [globex_phone])):
            provision(graph, account, phones, partner)

    def view(account: Account, users: list[dict[str, Any]], phones: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "account_id": account.account_id,
            "name": account.name,
            "waba_id": account.waba_id,
            "phone_numbers": phones,
            "users": users,
        }

    return {
        "api": api_url,
        "partner": {
            "partner_id": partner.account_id,
            "name": partner.name,
            "meta_business_id": partner.meta_business_id,
            "meta_app_id": partner.meta_app_id,
            "users": [partner_admin],
        },
        "other_partner": {
            "partner_id": other.account_id,
            "name": other.name,
            "meta_business_id": other.meta_business_id,
            "users": [other_admin],
        },
        "accounts": [view(acme, acme_users, [acme_phone]), view(globex, globex_users, [globex_phone])],
    }
