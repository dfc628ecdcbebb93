"""What customers read: message templates and business profiles (both applied at Meta)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wabaguard.activity import RequestMeta
from wabaguard.keyactions.facts import template_facts
from wabaguard.keyactions.work import Outcome, Prepared, Work
from wabaguard.models import MessageTemplate, PhoneNumber, account_pk, iso, template_sk
from wabaguard.people.principal import Principal
from wabaguard.queries import profile_view
from wabaguard.security import new_id
from wabaguard.whatsapp import changes as platform


def words_create_template(prep: Prepared) -> str:
    model = prep.body
    prep.facts = template_facts(model.name, model.language, model.category, model.components)
    return (
        f'Create the {model.category} message template "{model.name}" ({model.language}, '
        f"{len(model.components)} component(s)) for {prep.account.name}"
    )


def words_update_profile(prep: Prepared) -> str:
    parts = [f"{k} to {_value_words(v)}" for k, v in sorted(prep.body.changes().items())]
    return f"Change the business profile of {prep.phone_words}: set " + "; ".join(parts)


def _value_words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return f'"{value}"'


# ------------------------------------------------------------------ performers
def do_create_template(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    model = prep.body
    template_id = new_id("tpl")
    item = MessageTemplate(
        account_pk(prep.account.account_id),
        template_sk(template_id),
        template_id=template_id,
        account_id=prep.account.account_id,
        name=model.name,
        language=model.language,
        category=model.category,
        components=model.components,
        status="PENDING",
        created_at=iso(now),
        last_change=work.change(p, "template_created", meta, now),
    )
    work.tx.save(item, condition=MessageTemplate.pk.does_not_exist())
    meta_body = {
        "name": model.name,
        "language": model.language,
        "category": model.category,
        "components": model.components,
    }
    waba = prep.account.waba_id
    state = platform.enqueue(
        work.tx, prep.account.account_id, "create_template", template_id, f"/{waba}/message_templates", meta_body, now
    )
    body = {
        "template_id": template_id,
        "name": model.name,
        "language": model.language,
        "category": model.category,
        "status": "PENDING",
        "platform": state,
    }
    return 201, body, {"detail": f"template {model.name}"}


def do_update_profile(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Outcome:
    assert prep.phone is not None
    profile = {**(prep.phone.profile or {}), **prep.body.changes()}
    work.tx.update(
        prep.phone,
        actions=[
            PhoneNumber.profile.set(profile),
            PhoneNumber.last_change.set(work.change(p, "profile_updated", meta, now)),
        ],
        condition=PhoneNumber.pk.exists(),
    )
    phone = prep.phone
    meta_body = {"messaging_product": "whatsapp", **prep.body.changes()}
    path = f"/{phone.meta_phone_number_id}/whatsapp_business_profile"
    state = platform.enqueue(work.tx, phone.account_id, "update_profile", phone.phone_number_id, path, meta_body, now)
    return 200, profile_view(phone.phone_number_id, profile, state), {"phone_number_id": phone.phone_number_id}
