"""Security events: every notice wabaguard emails, as a typed JSON event (§Security webhooks).

An event is ``{"type", "timestamp", "data"}`` (the Standard Webhooks payload shape). ``data`` has
the same head for every type (which change, when, on which account, who did it from where, one
sentence) and a body per type, each a pydantic model below: the models are the schema (``make
openapi`` writes them to ``webhooks/events.schema.json``) and the builder fills them, so what is
sent and what is documented cannot drift. Nothing secret is ever put in: URLs are shown as
notices show them (query masked), API keys by name and prefix, no codes, tokens or verify tokens.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from wabaguard.keyactions.registry import KEY_ACTIONS
from wabaguard.models import (
    Account,
    AccountsItem,
    ApiKey,
    Flag,
    MailFailure,
    MessageTemplate,
    MetaEvent,
    PartnerChangeRequest,
    Passkey,
    PhoneNumber,
    PlatformChange,
    SecurityWebhook,
    User,
    WabaDrift,
)
from wabaguard.notices.notify import PROFILE_FIELDS, SYSTEM_KINDS
from wabaguard.urls import display_url, host_of


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class AccountRef(_Model):
    account_id: str
    name: str
    kind: Literal["client", "partner"]
    partner_id: str | None = None


class Actor(_Model):
    """Who made the change: a user, an API key (by prefix), wabaguard itself or its operators."""

    type: Literal["user", "api_key", "wabaguard"]
    name: str | None = None  # for wabaguard: "wabaguard monitoring", "wabaguard ops", …
    email: str | None = None
    key_prefix: str | None = None
    ip: str | None = None
    country: str | None = None
    user_agent: str | None = None


class PhoneRef(_Model):
    phone_number_id: str
    display: str
    display_phone_number: str | None = None


class EventData(_Model):
    """The head every event's ``data`` starts with."""

    change_id: str
    occurred_at: str
    account: AccountRef
    actor: Actor
    summary: str


class WebhookUrlChanged(EventData):
    phone_number: PhoneRef
    old_url: str | None
    new_url: str | None
    old_host: str | None
    new_host: str | None
    host_changed: bool
    # True on the copy sent to the old URL itself: "your integration no longer receives messages".
    # That copy is minimal (the old URL may be anyone's): no actor details, the new host only.
    sent_to_old_url: bool = False
    see: str | None = None  # on that copy: where the account's people can look


class FieldChange(_Model):
    field: str
    old: Any = None
    new: Any = None


class ProfileUpdated(EventData):
    phone_number: PhoneRef
    changes: list[FieldChange]


class ApiKeyRef(_Model):
    key_id: str
    name: str | None
    prefix: str


class ApiKeyEvent(EventData):
    phone_number: PhoneRef
    api_key: ApiKeyRef


class TemplateRef(_Model):
    template_id: str
    name: str
    language: str
    category: str


class TemplateCreated(EventData):
    template: TemplateRef


class PartnerChangeRef(_Model):
    request_id: str
    status: str
    current_partner_id: str | None
    target_partner_id: str
    reason: str | None = None
    requested_by: str | None = None
    submit_after: str | None = None
    needs_approval: bool = False
    approved_by: str | None = None


class PartnerChangeEvent(EventData):
    partner_change: PartnerChangeRef


class UserRef(_Model):
    user_id: str
    email: str
    role: str


class UserEvent(EventData):
    user: UserRef


class FlagRef(_Model):
    flag_id: str
    rule: str
    severity: Literal["low", "medium", "high"]
    explanation: str
    status: str


class FlagRaised(EventData):
    flag: FlagRef
    under_review: bool


class ReviewEvent(EventData):
    under_review: bool
    reason: str | None = None


class PlatformChangeRef(_Model):
    change_id: str
    action: str
    resource: str
    detail: str | None
    attempts: int


class PlatformChangeFailed(EventData):
    platform_change: PlatformChangeRef


class MetaSignalRef(_Model):
    field: str
    event: str | None = None
    display_phone_number: str | None = None
    event_time: str | None = None
    headline: str
    advice: str | None = None
    facts: dict[str, str]


class MetaSignal(EventData):
    meta: MetaSignalRef


class DriftRef(_Model):
    """One difference at Meta (§WABA watch); URLs as people may be shown them (query masked)."""

    area: str
    key: str
    change: Literal["added", "removed", "changed"]
    before: str | None = None
    after: str | None = None
    severity: Literal["medium", "high"]
    words: str


class WabaDriftEvent(EventData):
    waba_id: str
    severity: Literal["medium", "high"]
    differences: list[DriftRef]
    flag_id: str | None = None
    compared_with: str | None = None  # when the read it was compared with was taken


class UndeliverableRef(_Model):
    """A security email that did not arrive (§Mail delivery): to whom, what it was, what SES said."""

    recipient: str
    kind: str
    status: Literal["bounced", "complained", "rejected"]
    subject: str | None = None
    detail: str | None = None
    message_id: str
    change_id: str | None = None  # the change the notice was about


class NoticeUndeliverable(EventData):
    email: UndeliverableRef


class EndpointRef(_Model):
    url: str | None
    status: str
    reason: str | None = None
    previous_secret_valid_until: str | None = None


class SecurityWebhookEvent(EventData):
    security_webhook: EndpointRef


class PasskeyRef(_Model):
    passkey_id: str
    name: str
    user_id: str
    backed_up: bool


class PasskeyEvent(EventData):
    passkey: PasskeyRef


class SecurityPolicyEvent(EventData):
    passkey_required_for: Literal["all"] | list[str]
    before: Literal["all"] | list[str]


# The model of each event type: the schema catalogue (``make openapi`` publishes it).
EVENT_MODELS: dict[str, type[EventData]] = {
    "webhook_url.changed": WebhookUrlChanged,
    "profile.updated": ProfileUpdated,
    "api_key.created": ApiKeyEvent,
    "api_key.revoked": ApiKeyEvent,
    "template.created": TemplateCreated,
    "partner_change.requested": PartnerChangeEvent,
    "partner_change.approved": PartnerChangeEvent,
    "partner_change.cancelled": PartnerChangeEvent,
    "partner_change.submitted": PartnerChangeEvent,
    "partner_change.expired": PartnerChangeEvent,
    "user.added": UserEvent,
    "user.removed": UserEvent,
    "user.email_changed": UserEvent,
    "authenticator.enrolled": UserEvent,
    "authenticator.reset": UserEvent,
    "access_token.replaced": UserEvent,
    "user.recovery_started": UserEvent,
    "otp.locked": UserEvent,
    "flag.raised": FlagRaised,
    "review.started": ReviewEvent,
    "review.released": ReviewEvent,
    "platform_change.failed": PlatformChangeFailed,
    "whatsapp.signal": MetaSignal,
    "whatsapp.drift": WabaDriftEvent,
    "notice.undeliverable": NoticeUndeliverable,
    "security_webhook.updated": SecurityWebhookEvent,
    "security_webhook.removed": SecurityWebhookEvent,
    "security_webhook.secret_rotated": SecurityWebhookEvent,
    "security_webhook.disabled": SecurityWebhookEvent,
    "passkey.registered": PasskeyEvent,
    "passkey.removed": PasskeyEvent,
    "security_policy.updated": SecurityPolicyEvent,
}
# The change kinds that are no key action (wabaguard's own, ops', protective writes) and their type;
# a key action's comes from its registry entry.
OTHER_KINDS = {
    "api_key_revoked": "api_key.revoked",
    "partner_change_cancelled": "partner_change.cancelled",
    "partner_change_submitted": "partner_change.submitted",
    "partner_change_expired": "partner_change.expired",
    "totp_reset": "authenticator.reset",
    "access_recovery": "user.recovery_started",
    "access_recovered": "access_token.replaced",
    "otp_locked": "otp.locked",
    "account_flagged": "flag.raised",
    "review_started": "review.started",
    "review_released": "review.released",
    "platform_failed": "platform_change.failed",
    "meta_signal": "whatsapp.signal",
    "waba_drift": "whatsapp.drift",
    "notice_undeliverable": "notice.undeliverable",
    "security_webhook_disabled": "security_webhook.disabled",
}
# The change kinds of wabaguard (``last_change.kind``) and the event type each becomes.
TYPES: dict[str, tuple[str, type[EventData]]] = {
    kind: (name, EVENT_MODELS[name])
    for kind, name in {**{a.notice: a.event for a in KEY_ACTIONS}, **OTHER_KINDS}.items()
}
EVENT_TYPES: dict[str, type[EventData]] = dict(EVENT_MODELS)


class Event(_Model):
    """One event, before it is addressed (the same event may go to several endpoints)."""

    type: str
    timestamp: str
    data: EventData

    def for_old_url(self) -> str:
        """The copy for a phone's *old* webhook URL — which phone, that its URL changed (the new
        host only), when, and where to look; never who did it from where, nor the new URL's path
        or query (the old URL may be the hijacker's own, or a former integrator's)."""
        data = self.data
        assert isinstance(data, WebhookUrlChanged)
        where = data.phone_number.display
        summary = (
            f"The webhook URL of {where} was changed at {data.occurred_at}"
            + (f" to a URL at {data.new_host}" if data.new_host else "")
            + "; this URL no longer receives its messages."
        )
        see = (
            f"If you did not expect this, ask the admins of {data.account.name}; they see who changed it, "
            "and from where, in wabaguard's security events of the account."
        )
        return self.payload(
            actor=Actor(type=data.actor.type, name=data.actor.name if data.actor.type == "wabaguard" else None),
            new_url=None,
            summary=summary,
            sent_to_old_url=True,
            see=see,
        )

    def payload(self, **overrides: Any) -> str:
        """The exact JSON text that is signed and sent (compact, keys in schema order)."""
        data = self.data.model_copy(update=overrides) if overrides else self.data
        return json.dumps(
            {"type": self.type, "timestamp": self.timestamp, "data": data.model_dump(mode="json")},
            separators=(",", ":"),
            ensure_ascii=False,
        )


def _phone(phone: PhoneNumber) -> PhoneRef:
    return PhoneRef(
        phone_number_id=phone.phone_number_id, display=phone.display, display_phone_number=phone.display_phone_number
    )


def _phone_by_id(phone_number_id: str) -> PhoneRef:
    try:
        return _phone(PhoneNumber.get(*PhoneNumber.key(phone_number_id)))
    except PhoneNumber.DoesNotExist:
        return PhoneRef(phone_number_id=phone_number_id, display=phone_number_id)


def _actor(item: AccountsItem, system: bool) -> Actor:
    lc = item.last_change
    assert lc is not None
    if system or not (lc.by_user_id or lc.by_key_prefix or lc.by_email):
        return Actor(type="wabaguard", name=lc.by_email or "wabaguard")
    if lc.by_key_prefix and not lc.by_email:
        return Actor(
            type="api_key", key_prefix=lc.by_key_prefix, ip=lc.ip, country=lc.country, user_agent=lc.user_agent
        )
    return Actor(type="user", email=lc.by_email, ip=lc.ip, country=lc.country, user_agent=lc.user_agent)


def _policy(names: set[str] | None) -> str | list[str]:
    return "all" if names and "all" in names else sorted(names or [])


def _user(user: User) -> dict[str, Any]:
    return {"user": UserRef(user_id=user.user_id, email=user.email, role=user.role)}


def _body(kind: str, old: AccountsItem | None, new: AccountsItem, account: Account) -> dict[str, Any]:
    """The per-type part of ``data``."""
    if isinstance(new, PhoneNumber) and kind == "webhook_url_set":
        before = old.webhook_url if isinstance(old, PhoneNumber) else None
        return {
            "phone_number": _phone(new),
            "old_url": display_url(before),
            "new_url": display_url(new.webhook_url),
            "old_host": host_of(before),
            "new_host": host_of(new.webhook_url),
            "host_changed": host_of(before) != host_of(new.webhook_url),
        }
    if isinstance(new, PhoneNumber) and kind == "profile_updated":
        was: dict[str, Any] = (old.profile if isinstance(old, PhoneNumber) else {}) or {}
        after: dict[str, Any] = new.profile or {}
        changed = [
            FieldChange(field=k, old=was.get(k), new=after.get(k)) for k in PROFILE_FIELDS if was.get(k) != after.get(k)
        ]
        return {"phone_number": _phone(new), "changes": changed}
    if isinstance(new, ApiKey):
        ref = ApiKeyRef(key_id=new.key_id, name=new.name, prefix=new.prefix)
        return {"phone_number": _phone_by_id(new.phone_number_id), "api_key": ref}
    if isinstance(new, MessageTemplate):
        ref_t = TemplateRef(template_id=new.template_id, name=new.name, language=new.language, category=new.category)
        return {"template": ref_t}
    if isinstance(new, PartnerChangeRequest):
        return {
            "partner_change": PartnerChangeRef(
                request_id=new.request_id,
                status=new.status,
                current_partner_id=new.current_partner_id,
                target_partner_id=new.target_partner_id,
                reason=new.reason,
                requested_by=new.requested_by,
                submit_after=new.submit_after,
                needs_approval=bool(new.needs_approval),
                approved_by=new.approved_by,
            )
        }
    if isinstance(new, User):
        return _user(new)
    if isinstance(new, Passkey):
        ref_k = PasskeyRef(
            passkey_id=new.passkey_id, name=new.name, user_id=new.user_id, backed_up=new.backed_up == "true"
        )
        return {"passkey": ref_k}
    if isinstance(new, Account) and kind == "security_policy_set":
        return {
            "passkey_required_for": _policy(new.passkey_required_for),
            "before": _policy(old.passkey_required_for if isinstance(old, Account) else None),
        }
    if isinstance(new, Flag):
        ref_f = FlagRef(
            flag_id=new.flag_id,
            rule=new.rule,
            severity=new.severity,  # type: ignore[arg-type]
            explanation=new.explanation,
            status=new.status,
        )
        return {"flag": ref_f, "under_review": bool(account.under_review)}
    if isinstance(new, Account):
        return {"under_review": bool(new.under_review), "reason": new.review_reason}
    if isinstance(new, PlatformChange):
        ref_p = PlatformChangeRef(
            change_id=new.change_id,
            action=new.action,
            resource=new.resource,
            detail=new.detail,
            attempts=int(new.attempts or 0),
        )
        return {"platform_change": ref_p}
    if isinstance(new, MetaEvent):
        ref_m = MetaSignalRef(
            field=new.field,
            event=new.event,
            display_phone_number=new.phone,
            event_time=new.event_time,
            headline=new.headline,
            advice=new.advice,
            facts={str(k): str(v) for k, v in (new.facts or [])},
        )
        return {"meta": ref_m}
    if isinstance(new, MailFailure):
        ref_u = UndeliverableRef(
            recipient=new.recipient,
            kind=new.kind,
            status=new.status,  # type: ignore[arg-type]
            subject=new.subject,
            detail=new.detail,
            message_id=new.message_id,
            change_id=new.change_id,
        )
        return {"email": ref_u}
    if isinstance(new, WabaDrift):
        return {
            "waba_id": new.waba_id,
            "severity": new.severity,
            "differences": [
                DriftRef(**{k: d.get(k) for k in DriftRef.model_fields}) for d in (new.differences or [])[:50]
            ],
            "flag_id": new.flag_id,
            "compared_with": new.previous_at,
        }
    if isinstance(new, SecurityWebhook):
        return {
            "security_webhook": EndpointRef(
                url=display_url(new.url),
                status=new.status,
                reason=new.disabled_reason,
                previous_secret_valid_until=new.previous_until,
            )
        }
    raise KeyError(kind)


def build(old: AccountsItem | None, new: AccountsItem, account: Account, summary: str) -> Event | None:
    """The event of one change (the item's new ``last_change``), or None for a kind without one."""
    lc = new.last_change
    if lc is None or lc.kind not in TYPES:
        return None
    name, model = TYPES[lc.kind]

    # wabaguard's own notices (no report link there, no requester here), and ops' authenticator reset
    system = lc.kind in SYSTEM_KINDS or lc.kind in ("totp_reset", "access_recovery")
    data = model(
        change_id=lc.change_id,
        occurred_at=lc.at,
        account=AccountRef(
            account_id=account.account_id,
            name=account.name,
            kind="partner" if account.kind == "partner" else "client",
            partner_id=account.partner_id,
        ),
        actor=_actor(new, system),
        summary=summary,
        **_body(lc.kind, old, new, account),
    )
    return Event(type=name, timestamp=lc.at, data=data)


def json_schema() -> dict[str, Any]:
    """One JSON Schema document with a definition per event type (published next to the OpenAPI)."""
    defs: dict[str, Any] = {}
    variants = []
    for name, model in sorted(EVENT_TYPES.items()):
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        for key, sub in schema.pop("$defs", {}).items():
            defs[key] = sub
        defs[model.__name__] = schema
        variants.append(
            {
                "title": name,
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "timestamp", "data"],
                "properties": {
                    "type": {"const": name},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "data": {"$ref": f"#/$defs/{model.__name__}"},
                },
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://wabaguard.dev/schemas/security-events.json",
        "title": "wabaguard security events",
        "description": (
            "The body of every security event POSTed to a registered security webhook, signed per the "
            "Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature)."
        ),
        "oneOf": variants,
        "$defs": defs,
    }
