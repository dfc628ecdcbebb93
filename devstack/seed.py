"""The demo seed of §Local: one Partner managing two Client accounts, users and phone numbers.

Written through the PynamoDB models (no ``last_change``, so seeding notifies nobody).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wabaguard.actions import new_user
from wabaguard.models import (
    Account,
    Link,
    PhoneNumber,
    account_pk,
    iso,
    managed_sk,
    phone_link_sk,
)
from wabaguard.security import new_id


def create_account(
    name: str, kind: str = "client", partner_id: str | None = None, account_id: str | None = None
) -> Account:
    account_id = account_id or new_id("prt" if kind == "partner" else "acc")
    account = Account(
        *Account.key(account_id),
        account_id=account_id,
        name=name,
        kind=kind,
        partner_id=partner_id,
        under_review=False,
        created_at=iso(datetime.now(UTC)),
    )
    account.save(condition=Account.pk.does_not_exist())
    if partner_id:
        Link(account_pk(partner_id), managed_sk(account_id), target_id=account_id, display=name).save()
    return account


def create_user(account: Account, email: str, role: str) -> dict[str, Any]:
    user, credential, token = new_user(account, email, role, datetime.now(UTC))
    user.save()
    credential.save()
    if role == "admin":
        account.update(actions=[Account.active_admins.add(1)])
    return {"user_id": user.user_id, "email": email, "role": role, "token": token}


def create_phone(
    account: Account, display: str, profile: dict[str, Any] | None = None, webhook_url: str | None = None
) -> dict[str, Any]:
    pn = new_id("pn")
    PhoneNumber(
        *PhoneNumber.key(pn),
        phone_number_id=pn,
        account_id=account.account_id,
        display=display,
        profile=profile or {},
        webhook_url=webhook_url,
    ).save()
    Link(account_pk(account.account_id), phone_link_sk(pn), target_id=pn, display=display).save()
    return {"phone_number_id": pn, "display": display}


def seed_demo(api_url: str) -> dict[str, Any]:
    """Create the demo world and return it in the shape of ``.local/demo.json``."""
    partner = create_account("Northwind Partners", kind="partner")
    partner_admin = create_user(partner, "ops@northwind.test", "admin")

    acme = create_account("Acme Shoes", partner_id=partner.account_id)
    acme_users = [create_user(acme, "admin@acme.test", "admin"), create_user(acme, "member@acme.test", "member")]
    acme_phone = create_phone(
        acme,
        "+49 30 1234567",
        {"about": "Shoes for everyone", "websites": ["https://acme.test"]},
        "https://hooks.acme.test/wa",
    )

    globex = create_account("Globex", partner_id=partner.account_id)
    globex_users = [create_user(globex, "admin@globex.test", "admin")]
    globex_phone = create_phone(
        globex, "+1 415 555 0100", {"about": "Globex Corporation"}, "https://hooks.globex.test/wa"
    )

    def view(account: Account, users: list[dict[str, Any]], phones: list[dict[str, Any]]) -> dict[str, Any]:
        return {"account_id": account.account_id, "name": account.name, "phone_numbers": phones, "users": users}

    return {
        "api": api_url,
        "partner": {"partner_id": partner.account_id, "name": partner.name, "users": [partner_admin]},
        "accounts": [view(acme, acme_users, [acme_phone]), view(globex, globex_users, [globex_phone])],
    }
