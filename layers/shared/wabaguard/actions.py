"""Key actions and the other writes of §API, as domain operations.

``prepare`` is shared by the challenge issuer and the API: it checks the caller may act on the
resource, validates the body and describes the request in words — so a code is only ever sent for
a request that would succeed. Every write records ``last_change`` (who, from where, when) so the
notifier can say it, and a ``key_action`` activity record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from wabaguard import activity, clock, outbound, partner_change, routes, schemas
from wabaguard.activity import RequestMeta
from wabaguard.aws import kms_decrypt, kms_encrypt, pepper
from wabaguard.config import API_STAGE
from wabaguard.errors import Conflict, Forbidden, InvalidRequest, NotFound, UnderReview
from wabaguard.models import (
    Account,
    ApiKey,
    Credential,
    MessageTemplate,
    PhoneNumber,
    RecoveryCodes,
    User,
    account_pk,
    api_key_sk,
    condition_failed,
    iso,
    phone_pk,
    recovery_pk,
    system_change,
    template_sk,
    transaction,
)
from wabaguard.otp import approvals, totp
from wabaguard.otp import challenges as otp_challenges
from wabaguard.otp import checks as otp
from wabaguard.otp.checks import Approval
from wabaguard.people.access import (
    active_users,
    load_account,
    load_user,
    require_account,
    require_phone,
    require_user_principal,
    valid_id,
)
from wabaguard.people.principal import Principal, change_record
from wabaguard.people.users import new_user, user_credential
from wabaguard.routes import BY_NAME, KeyAction
from wabaguard.security import RECOVERY_CODES, new_id, new_recovery_code, new_token, recovery_digest, token_digest
from wabaguard.urls import display_url, without_links
from wabaguard.webhooks import endpoints
from wabaguard.whatsapp import changes as platform

TOTP_ISSUER = "wabaguard"
# Under review every key action is paused: each adds a capability (keys, webhooks, templates,
# profile, users, authenticators, tokens, Partner changes) or removes a person. Protective
# actions — revoking an API key, cancelling a Partner change, reporting — are not key actions
# and stay open.
REVIEW_BLOCKED = frozenset(BY_NAME)


@dataclass
class Prepared:
    """A validated, authorised key action, ready to be approved or performed."""

    action: KeyAction
    params: dict[str, str]
    body: Any  # the pydantic model of the body
    account: Account
    description: str
    phone: PhoneNumber | None = None
    target_user: User | None = None
    facts: list[tuple[str, str]] | None = None  # what the approval email shows besides the words


def _phone_words(phone: PhoneNumber) -> str:
    return phone.display or phone.phone_number_id


def challenge(
    principal: Principal,
    method: str,
    path: str,
    body: Any,
    channel: str | None,
    meta: RequestMeta,
    now: float | None = None,
) -> dict[str, Any]:
    """``POST /v1/otp/challenges``: counted first (refused requests count), then the request is
    matched and prepared as if it were made — a code is only sent for one that would succeed."""
    t = clock.now() if now is None else now
    otp_challenges.count_request(principal, t)
    if "?" in path or "#" in path:
        raise InvalidRequest("path", "must be a path without query string or fragment")
    if not path.startswith(f"/{API_STAGE}/"):
        raise InvalidRequest("path", f"must start with /{API_STAGE}/")
    matched = routes.match(method, path)
    if matched is None:
        names = ", ".join(f"{a.method} {a.pattern}" for a in routes.KEY_ACTIONS)
        raise InvalidRequest("path", f"{method} {path} is not a key action (key actions: {names})")
    action, params = matched
    prepared = prepare(principal, action.name, params, body)
    asked = otp_challenges.Asked(action.name, action.method, path, body, prepared.description, prepared.facts)
    return otp_challenges.issue(principal, asked, channel, meta, t)


def prepare(principal: Principal, action_name: str, params: dict[str, str], body: Any) -> Prepared:
    """Authorise and validate a key action; 404/403/400/423 before anything is sent or written."""
    action = BY_NAME[action_name]
    require_user_principal(principal)
    model = schemas.parse(schemas.BODY_SCHEMAS[action_name], body, "body")
    phone: PhoneNumber | None = None
    target: User | None = None
    if "phone_number_id" in params:
        phone, account = require_phone(principal, params["phone_number_id"])
    elif action_name in ("enroll_totp", "rotate_token"):
        account = load_account(principal.account_id)
    else:
        admin = action_name in ("add_user", "remove_user", "approve_partner_change", "request_partner_change")
        admin = admin or action_name in SECURITY_WEBHOOK_ACTIONS
        account = require_account(principal, params["account_id"], admin=admin)
    if action_name in REVIEW_BLOCKED and account.under_review:
        _paused(account, action_name)
    if action_name in platform.ACTIONS:
        _require_meta_ids(account, phone)

    facts: list[tuple[str, str]] | None = None
    if action_name == "create_template":
        words = (
            f'Create the {model.category} message template "{model.name}" ({model.language}, '
            f"{len(model.components)} component(s)) for {account.name}"
        )
        facts = template_facts(model.name, model.language, model.category, model.components)
    elif action_name == "update_profile":
        assert phone is not None
        changes = model.changes()
        parts = [f"{k} to {_value_words(v)}" for k, v in sorted(changes.items())]
        words = f"Change the business profile of {_phone_words(phone)}: set " + "; ".join(parts)
    elif action_name == "set_webhook_url":
        assert phone is not None
        words = f"Set the webhook URL of {_phone_words(phone)} to {display_url(model.url)}"
    elif action_name == "request_partner_change":
        _require_partner(model.target_partner_id, account)
        partner_change.require_none_open(account.account_id)
        hours = partner_change.cooling_off().total_seconds() / 3600
        words = (
            f"Move {account.name} to Partner {model.target_partner_id}, submitted after a cooling-off of "
            f"{hours:g} hour(s) unless someone cancels it"
        )
        if model.reason:
            words += f' (the requester\'s reason, links removed: "{without_links(model.reason)}")'
    elif action_name == "approve_partner_change":
        request = partner_change.load(account.account_id, params["request_id"])
        partner_change.check_approvable(request, principal, account)
        words = (
            f"Approve moving {account.name} to Partner {request.target_partner_id}, requested by "
            f"{request.requested_by} at {request.created_at}"
        )
    elif action_name == "create_api_key":
        assert phone is not None
        label = f' named "{model.name}"' if model.name else ""
        words = f"Create a new API key{label} for {_phone_words(phone)}"
    elif action_name == "add_user":
        words = f"Add {model.email} as {model.role} of {account.name}"
    elif action_name == "remove_user":
        target = load_user(account.account_id, params["user_id"])
        if target.user_id == principal.user_id:
            raise Forbidden("you cannot remove yourself; ask another admin")
        words = f"Remove {target.email} ({target.role}) from {account.name}"
    elif action_name == "enroll_totp":
        words = f"Enroll a new authenticator app for {principal.email}"
    elif action_name == "rotate_token":
        words = f"Replace the access token of {principal.email}; the current one stops working at once"
    elif action_name in SECURITY_WEBHOOK_ACTIONS:
        words = _security_webhook_words(action_name, account, model)
    else:  # pragma: no cover - the registry and this function move together
        raise InvalidRequest("path", "is not a key action")
    return Prepared(action, params, model, account, words, phone, target, facts)


SECURITY_WEBHOOK_ACTIONS = frozenset(
    {"set_security_webhook", "remove_security_webhook", "rotate_security_webhook_secret"}
)


def _security_webhook_words(action_name: str, account: Account, model: Any) -> str:
    """The request in words; the URL must resolve to public addresses now (checked again at every
    delivery), and removing or rotating needs an endpoint."""
    if action_name == "set_security_webhook":
        try:
            outbound.resolve(model.url)
        except outbound.Refused as exc:
            raise InvalidRequest("body.url", str(exc)) from None
        return (
            f"Send the security events of {account.name} to {display_url(model.url)} "
            "(a new signing secret is shown once)"
        )
    current = endpoints.load(account.account_id)
    if not endpoints.registered(current) or current is None:
        raise NotFound(f"{account.name} has no security webhook")
    if action_name == "remove_security_webhook":
        return f"Stop sending the security events of {account.name} to {display_url(current.url)}"
    return (
        f"Replace the signing secret of the security webhook of {account.name}; "
        "the current secret keeps signing for 24 hours"
    )


def _require_meta_ids(account: Account, phone: PhoneNumber | None) -> None:
    """A change that must reach WhatsApp needs Meta's ids; without them no code is sent."""
    if phone is not None and not phone.meta_phone_number_id:
        raise Conflict(
            f"phone number {phone.phone_number_id} has no Meta Phone-Number-ID, so the change cannot reach "
            "WhatsApp; ask your provider to add it"
        )
    if phone is None and not account.waba_id:
        raise Conflict(
            f"{account.name} has no WhatsApp Business Account id, so the change cannot reach WhatsApp; "
            "ask your provider to add it"
        )


def template_facts(name: str, language: str, category: str, components: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What a template says, for the person approving it: a template is what customers will read."""
    facts = [("Template name", name), ("Language", language), ("Category", category)]
    for comp in components:
        kind = str(comp.get("type", "")).upper()
        if kind in ("HEADER", "BODY", "FOOTER") and isinstance(comp.get("text"), str):
            facts.append((f"{kind.title()} text", comp["text"][:1024]))
        elif kind == "BUTTONS" and isinstance(comp.get("buttons"), list):
            labels = [
                f"{b.get('text', '?')}" + (f" → {display_url(str(b['url']))}" if b.get("url") else "")
                for b in comp["buttons"]
                if isinstance(b, dict)
            ]
            facts.append(("Buttons", "; ".join(labels)[:1024]))
    return facts


def _paused(account: Account, action_name: str) -> None:
    raise UnderReview(f"account {account.account_id} is under review; {action_name} is paused until ops release it")


def _value_words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return f'"{value}"'


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


def _audit(principal: Principal, account_id: str, action: str, meta: RequestMeta, now: datetime, **fields: Any) -> Any:
    who = {"user_id": principal.user_id, "key_id": principal.key_id}
    return activity.build(
        account_id,
        "key_action",
        now,
        action=action,
        ip=meta.ip,
        user_agent=meta.user_agent,
        country=meta.country,
        request_id=meta.request_id,
        **{**who, **fields},
    )


@dataclass
class Work:
    """One key action's writes: the transaction every performer adds to (with the challenge's
    consumption and the audit record), and what a failed condition of the action's own means."""

    tx: TransactWrite
    conflict: Callable[[], Exception] | None = None
    challenge_id: str = ""  # the challenge that approved it


def run_approved(
    principal: Principal,
    name: str,
    params: dict[str, str],
    body: Any,
    approval: Approval,
    meta: RequestMeta,
    now: datetime | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """An OTP-approved request: the approved body acts once; another body spends nothing; the same
    user's retry of a success gets the same answer. Returns (status, body, extra headers)."""
    now = now or clock.utcnow()
    if not approvals.same_body(approval, body):
        raise approvals.other_body(approval, principal, meta, now.timestamp())
    if approval.replay:
        status, out = approvals.stored_answer(approval, principal)
        return status, out, dict(approvals.REPLAYED)
    prepared = prepare(principal, name, params, body)
    return perform(principal, prepared, meta, approval, now)


def perform(
    principal: Principal, prepared: Prepared, meta: RequestMeta, approval: Approval, now: datetime | None = None
) -> tuple[int, Any, dict[str, str]]:
    """Carry out an approved key action in one transaction with the challenge's consumption and
    the audit record; returns (status, response body, extra headers)."""
    now = now or clock.utcnow()
    name = prepared.action.name
    work = Work(transaction(), challenge_id=approval.challenge_id)
    try:
        with work.tx:
            status, body, extra = _PERFORMERS[name](principal, prepared, meta, now, work)
            work.tx.save(_audit(principal, prepared.account.account_id, name, meta, now, **extra))
            approvals.consume_into(work.tx, approval, principal, now.timestamp(), status, body)
    except TransactWriteError as exc:
        if not condition_failed(exc):
            raise
        outcome = approvals.settle(approval, principal, meta, now.timestamp())
        if isinstance(outcome, Exception):
            raise outcome from None
        if outcome is not None:
            return outcome[0], outcome[1], dict(approvals.REPLAYED)
        if work.conflict is not None:
            raise work.conflict() from None
        raise Conflict("the resource changed while the action ran; nothing was changed, try again") from None
    if approval.recovery_digest:
        otp.recovery_code_used(principal, meta, now)
    return status, body, {}


# ------------------------------------------------------------------ performers
def _create_template(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
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
        last_change=change_record(p, "template_created", meta, now),
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


def _update_profile(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    assert prep.phone is not None
    profile = {**(prep.phone.profile or {}), **prep.body.changes()}
    work.tx.update(
        prep.phone,
        actions=[
            PhoneNumber.profile.set(profile),
            PhoneNumber.last_change.set(change_record(p, "profile_updated", meta, now)),
        ],
        condition=PhoneNumber.pk.exists(),
    )
    phone = prep.phone
    meta_body = {"messaging_product": "whatsapp", **prep.body.changes()}
    path = f"/{phone.meta_phone_number_id}/whatsapp_business_profile"
    state = platform.enqueue(work.tx, phone.account_id, "update_profile", phone.phone_number_id, path, meta_body, now)
    return 200, profile_view(phone.phone_number_id, profile, state), {"phone_number_id": phone.phone_number_id}


def _set_webhook(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    assert prep.phone is not None
    work.tx.update(
        prep.phone,
        actions=[
            PhoneNumber.webhook_url.set(prep.body.url),
            PhoneNumber.last_change.set(change_record(p, "webhook_url_set", meta, now)),
        ],
        condition=PhoneNumber.pk.exists(),
    )
    phone = prep.phone
    meta_body = {"webhook_configuration": {"override_callback_uri": prep.body.url}}
    state = platform.enqueue(
        work.tx,
        phone.account_id,
        "set_webhook_url",
        phone.phone_number_id,
        f"/{phone.meta_phone_number_id}",
        meta_body,
        now,
        secret=prep.body.verify_token,
    )
    return 200, {"url": prep.body.url, "platform": state}, {"phone_number_id": phone.phone_number_id}


def _partner_change(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    """The request waits in COOLING_OFF (§Partner change); the scheduled run submits it."""
    change = change_record(p, "partner_change_requested", meta, now)
    work.conflict = lambda: Conflict("another Partner change request was opened meanwhile; nothing was changed")
    out = partner_change.request(work.tx, p, prep.account, prep.body.target_partner_id, prep.body.reason, change, now)
    return 201, out, {"detail": f"to {prep.body.target_partner_id}"}


def _approve_partner_change(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    request = partner_change.load(prep.account.account_id, prep.params["request_id"])
    work.conflict = lambda: Conflict("the Partner change request changed meanwhile (cancelled, or approved); try again")
    change = change_record(p, "partner_change_approved", meta, now)
    out = partner_change.approve(work.tx, request, p, change, now)
    return 200, out, {"detail": f"{request.request_id} to {request.target_partner_id}"}


def _create_api_key(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    assert prep.phone is not None
    phone = prep.phone
    key_id = new_id("key")
    api_key = new_token("wgk")
    prefix = api_key[:10]
    digest = token_digest(api_key)
    tx = work.tx
    tx.save(
        ApiKey(
            phone_pk(phone.phone_number_id),
            api_key_sk(key_id),
            key_id=key_id,
            phone_number_id=phone.phone_number_id,
            account_id=phone.account_id,
            name=prep.body.name,
            prefix=prefix,
            token_digest=digest,
            status="active",
            created_at=iso(now),
            last_change=change_record(p, "api_key_created", meta, now),
        ),
        condition=ApiKey.pk.does_not_exist(),
    )
    tx.save(
        Credential(
            digest,
            kind="api_key",
            account_id=phone.account_id,
            account_kind=prep.account.kind,
            key_id=key_id,
            phone_number_id=phone.phone_number_id,
            prefix=prefix,
            created_at=iso(now),
        ),
        condition=Credential.token_digest.does_not_exist(),
    )
    body = {
        "key_id": key_id,
        "api_key": api_key,
        "prefix": prefix,
        "name": prep.body.name,
        "phone_number_id": phone.phone_number_id,
        "created_at": iso(now),
    }
    return 201, body, {"phone_number_id": phone.phone_number_id, "key_id": key_id}


def _add_user(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    account = prep.account
    email = prep.body.email
    existing = [u for u in active_users(account.account_id) if u.email == email]
    if existing:
        raise Conflict(f"{email} is already a user of {account.name}")
    user, credential, token = new_user(account, email, prep.body.role, now, change_record(p, "user_added", meta, now))
    user_id = user.user_id
    work.tx.save(user, condition=User.pk.does_not_exist())
    work.tx.save(credential, condition=Credential.token_digest.does_not_exist())
    if prep.body.role == "admin":
        work.tx.update(Account(*Account.key(account.account_id)), actions=[Account.active_admins.add(1)])
    body = {
        "user_id": user_id,
        "email": email,
        "role": prep.body.role,
        "token": token,
        "account_id": account.account_id,
        "created_at": iso(now),
    }
    return 201, body, {"detail": f"user {user_id}"}


def _remove_user(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    target = prep.target_user
    assert target is not None
    work.tx.update(
        target,
        actions=[
            User.status.set("removed"),
            User.removed_at.set(iso(now)),
            User.last_change.set(change_record(p, "user_removed", meta, now)),
        ],
        condition=User.status == "active",
    )
    if target.token_digest:
        revoke: Any = [Credential.status.set("revoked")]
        work.tx.update(Credential(target.token_digest), actions=revoke, condition=Credential.token_digest.exists())
    partner_change.cancel_for_removed_requester(
        work.tx,
        target.user_id,
        target.email,
        prep.account,
        lambda: change_record(p, "partner_change_cancelled", meta, now),
        meta,
        now,
    )
    if target.role == "admin":
        # Settled by DynamoDB: two admins removing each other at once cannot both win.
        fewer: Any = [Account.active_admins.add(-1)]
        work.tx.update(
            Account(*Account.key(prep.account.account_id)), actions=fewer, condition=Account.active_admins > 1
        )

    def conflict() -> Exception:
        fresh = User.get(target.pk, target.sk, consistent_read=True)
        if fresh.status != "active":
            return NotFound(f"user {target.user_id} does not exist")
        return Conflict(f"{target.email} is the last active admin of {prep.account.name}; an account keeps one")

    work.conflict = conflict
    return 204, None, {"detail": f"user {target.user_id}"}


def _enroll_totp(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    user = load_user(p.account_id, p.user_id or "")
    secret = pyotp.random_base32()
    ctx = {"user_id": user.user_id, "purpose": "totp"}
    pending: Any = [User.totp_pending_enc.set(kms_encrypt(secret, ctx))]
    work.tx.update(user, actions=pending, condition=User.status == "active")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return 201, {"otpauth_uri": uri, "confirm_with": "POST /v1/me/totp/confirm"}, {}


def _rotate_token(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    """A new access token for the caller, shown once; the old one is refused from this moment.
    One transaction: the new credential, the old one revoked, the user pointing at the new one."""
    user = load_user(p.account_id, p.user_id or "")
    credential, token = user_credential(prep.account, user.user_id, user.email, user.role, now)
    old = user.token_digest
    tx = work.tx
    tx.save(credential, condition=Credential.token_digest.does_not_exist())
    if old:
        revoke: Any = [
            Credential.status.set("revoked"),
            Credential.rotated_at.set(int(now.timestamp())),
            Credential.rotated_by_challenge.set(work.challenge_id),
        ]
        tx.update(Credential(old), actions=revoke, condition=Credential.status == "active")
    tx.update(
        user,
        actions=[
            User.token_digest.set(credential.token_digest),
            User.last_change.set(change_record(p, "token_rotated", meta, now)),
        ],
        condition=(User.status == "active") & (User.token_digest == old if old else User.token_digest.does_not_exist()),
    )
    return 201, {"token": token, "user_id": user.user_id, "created_at": iso(now)}, {"detail": "access token replaced"}


def _security_webhook(p: Principal, prep: Prepared, meta: RequestMeta, now: datetime, work: Work) -> Any:
    """Register, remove or re-key the account's security-events endpoint (§Security webhooks)."""
    name = prep.action.name
    account_id = prep.account.account_id
    current = endpoints.load(account_id)
    work.conflict = lambda: Conflict("the security webhook changed while the action ran; nothing was changed")
    if name == "set_security_webhook":
        change = change_record(p, "security_webhook_set", meta, now)
        view, secret = endpoints.put(work.tx, account_id, prep.body.url, current, change, now)
        return 200, {**view, "url": prep.body.url, "secret": secret}, {"detail": display_url(prep.body.url)}
    if current is None or not endpoints.registered(current):
        raise NotFound(f"{prep.account.name} has no security webhook")
    if name == "remove_security_webhook":
        endpoints.remove(work.tx, current, change_record(p, "security_webhook_removed", meta, now), now)
        return 204, None, {"detail": display_url(current.url)}
    change = change_record(p, "security_webhook_rotated", meta, now)
    view, secret = endpoints.rotate(work.tx, current, change, now)
    return 200, {**view, "secret": secret}, {"detail": "signing secret replaced"}


_PERFORMERS = {
    "create_template": _create_template,
    "update_profile": _update_profile,
    "set_webhook_url": _set_webhook,
    "request_partner_change": _partner_change,
    "approve_partner_change": _approve_partner_change,
    "create_api_key": _create_api_key,
    "add_user": _add_user,
    "remove_user": _remove_user,
    "enroll_totp": _enroll_totp,
    "rotate_token": _rotate_token,
    "set_security_webhook": _security_webhook,
    "remove_security_webhook": _security_webhook,
    "rotate_security_webhook_secret": _security_webhook,
}


# ------------------------------------------------------------------ non-key writes
def confirm_totp(principal: Principal, code: str, meta: RequestMeta, now: datetime | None = None) -> dict[str, Any]:
    """Activate a pending authenticator once it shows a valid code (the step is then spent)."""
    now = now or clock.utcnow()
    if not principal.is_user:
        raise Forbidden("only users enroll authenticator apps")
    user = load_user(principal.account_id, principal.user_id or "")
    account = load_account(principal.account_id)
    if account.under_review:
        _paused(account, "confirm_totp")
    if not user.totp_pending_enc:
        raise Conflict("no authenticator enrollment is pending; POST /v1/me/totp first (with an OTP)")
    ctx = {"user_id": user.user_id, "purpose": "totp"}
    secret = kms_decrypt(user.totp_pending_enc, ctx)
    step = totp.matching_step(secret, code, now)
    if step is None:
        raise InvalidRequest("code", "does not match the authenticator app; check its clock and try again")
    spend_totp_step(user.user_id, step)
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    p = pepper()
    RecoveryCodes(recovery_pk(user.user_id), codes={recovery_digest(p, user.user_id, c) for c in codes}).save()
    user.update(
        actions=[
            User.totp_secret_enc.set(user.totp_pending_enc),
            User.totp_pending_enc.remove(),
            User.totp_enabled.set(True),
            User.last_change.set(change_record(principal, "totp_enrolled", meta, now)),
        ],
        condition=User.status == "active",
    )
    activity.record(user.account_id, "key_action", meta, at=now, user_id=user.user_id, action="confirm_totp")
    return {
        "totp_enabled": True,
        "recovery_codes": codes,
        "note": "Store these recovery codes now: each works once, in place of an authenticator code, and "
        "they are never shown again.",
    }


def reset_totp_by_ops(account_id: str, user_id: str, ops_identity: str, now: datetime | None = None) -> dict[str, Any]:
    """Ops recover a user who lost the authenticator and its recovery codes (after checking who
    they are, out of band). Every user of the account is told; the next code goes by email."""
    now = now or clock.utcnow()
    user = load_user(account_id, user_id)
    if not user.totp_enabled and not user.totp_pending_enc:
        raise Conflict(f"{user.email} has no authenticator app to reset")
    change = system_change("totp_reset", now, f"ops ({ops_identity})")
    user.update(
        actions=[
            User.totp_enabled.set(False),
            User.totp_secret_enc.remove(),
            User.totp_pending_enc.remove(),
            User.last_change.set(change),
        ],
        condition=User.status == "active",
    )
    RecoveryCodes(recovery_pk(user_id)).delete()
    activity.record(account_id, "key_action", at=now, user_id=user_id, action="totp_reset", detail="by ops")
    return {"user_id": user_id, "totp_enabled": False}


def spend_totp_step(user_id: str, step: int) -> None:
    """Record ``step`` as used; refuses a step not newer than the last one accepted."""
    state, update = totp.spend(user_id, step)
    try:
        state.update(**update)
    except UpdateError as exc:
        if condition_failed(exc):
            raise InvalidRequest("code", "was already used; wait for the next code") from None
        raise


def revoke_api_key(
    principal: Principal, phone_number_id: str, key_id: str, meta: RequestMeta, now: datetime | None = None
) -> None:
    """Revoke a key at once. Protective, so no OTP — but every user is told."""
    now = now or clock.utcnow()
    _, account = require_phone(principal, phone_number_id)
    if not valid_id(key_id):
        raise NotFound("no such API key")
    if principal.kind == "api_key" and key_id != principal.key_id:
        raise Forbidden("an API key may revoke only itself")
    try:
        key = ApiKey.get(phone_pk(phone_number_id), api_key_sk(key_id))
    except ApiKey.DoesNotExist:
        raise NotFound(f"API key {key_id} does not exist") from None
    if key.status != "active":
        raise Conflict(f"API key {key_id} is already revoked")
    try:
        with transaction() as tx:
            tx.update(
                key,
                actions=[
                    ApiKey.status.set("revoked"),
                    ApiKey.revoked_at.set(iso(now)),
                    ApiKey.last_change.set(change_record(principal, "api_key_revoked", meta, now)),
                ],
                condition=ApiKey.status == "active",
            )
            tx.update(
                Credential(key.token_digest),
                actions=[Credential.status.set("revoked")],
                condition=Credential.token_digest.exists(),
            )
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise Conflict(f"API key {key_id} is already revoked") from None
        raise
    activity.record(
        account.account_id,
        "api_key_revoked",
        meta,
        at=now,
        user_id=principal.user_id,
        key_id=key_id,
        phone_number_id=phone_number_id,
    )


# ------------------------------------------------------------------ reads
def profile_view(
    phone_number_id: str, profile: dict[str, Any] | None, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = {"phone_number_id": phone_number_id, **(profile or {})}
    if state is not None:
        out["platform"] = state
    return out


def phone_view(phone: PhoneNumber, full_url: bool = True) -> dict[str, Any]:
    """A phone number as the API shows it; ``full_url=False`` masks the webhook's query string
    (an integration's API key need not read a secret a person put there)."""
    keys = [
        {
            "key_id": k.key_id,
            "name": k.name,
            "prefix": k.prefix,
            "status": k.status,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in ApiKey.query(phone_pk(phone.phone_number_id), ApiKey.sk.startswith("KEY#"))
    ]
    profile = platform.latest(phone.account_id, platform.resource_of("update_profile", phone.phone_number_id))
    webhook = platform.latest(phone.account_id, platform.resource_of("set_webhook_url", phone.phone_number_id))
    return {
        "phone_number_id": phone.phone_number_id,
        "account_id": phone.account_id,
        "display": phone.display,
        "meta_phone_number_id": phone.meta_phone_number_id,
        "display_phone_number": phone.display_phone_number,
        "profile": phone.profile or {},
        "webhook_url": phone.webhook_url if full_url else display_url(phone.webhook_url),
        "api_keys": keys,
        # where the newest change stands at Meta, and the newest of each kind (None: never changed here)
        "platform": {
            **(
                platform.view(platform.newest(profile, webhook))
                or {"status": None, "detail": "never changed through wabaguard"}
            ),
            "profile": platform.view(profile),
            "webhook_url": platform.view(webhook),
        },
    }


