"""What Meta's account webhooks mean for an account (§Meta webhooks): who is told, which flag.

Parsing is defensive: Meta's payloads (and its own examples) put the phone number in
``display_phone_number``, ``phone_number`` or ``metadata.display_phone_number``, write ids as
numbers or strings and ban states as a string or a list. Nothing here trusts a field's type.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class Signal:
    """One change of one entry, read: what happened, to which phone, what it means."""

    field: str
    event: str  # PIN_CHANGED, PARTNER_ADDED, REJECTED, … ("" when Meta sent none)
    phone: str | None  # display_phone_number (E.164 digits)
    notify: bool
    severity: str | None  # medium | high | None
    rule: str | None  # the flag's rule id
    headline: str
    advice: str
    facts: list[tuple[str, str]] = dc_field(default_factory=list)
    template_id: str | None = None  # Meta's template id (status updates)
    template_status: str | None = None
    reason: str | None = None
    partner_event: bool = False  # may match a Partner change approved in wabaguard
    # The Partner ids at Meta the event names (partner_app_id, solution_partner_business_ids)
    partner_refs: tuple[str, ...] = ()


def _text(value: Any, limit: int = 200) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def phone_of(value: dict[str, Any]) -> str | None:
    """The phone number a change names, wherever Meta put it (digits only)."""
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    for raw in (value.get("display_phone_number"), value.get("phone_number"), metadata.get("display_phone_number")):
        text = _text(raw, 32)
        if text:
            digits = "".join(ch for ch in text if ch.isdigit())
            if 6 <= len(digits) <= 15:
                return digits
    return None


def _ban_states(value: dict[str, Any]) -> list[str]:
    info = value.get("ban_info")
    info = info if isinstance(info, dict) else {}
    states = info.get("waba_ban_state")
    if isinstance(states, str):
        return [states]
    return [str(s) for s in states] if isinstance(states, list) else []


SECURITY_WORDS = {
    "PIN_CHANGED": "the two-step verification PIN of {phone} was changed",
    "PIN_RESET_REQUEST": "someone asked WhatsApp to reset the two-step verification PIN of {phone}",
    "PIN_REQUEST_SUCCESS": "the two-step verification PIN of {phone} was reset: two-step verification is now off",
}
ACCOUNT_WORDS = {
    "PARTNER_ADDED": "a Partner was added to the WhatsApp Business Account at Meta",
    "PARTNER_REMOVED": "a Partner was removed from the WhatsApp Business Account at Meta",
    "PARTNER_APP_UNINSTALLED": "a Partner's app was uninstalled from the WhatsApp Business Account at Meta",
    "PARTNER_APP_INSTALLED": "a Partner's app was installed on the WhatsApp Business Account at Meta",
    "ACCOUNT_OFFBOARDED": "the WhatsApp Business Account was offboarded from the Cloud API after a device change "
    "or a re-registration of its phone number",
    "ACCOUNT_RECONNECTED": "the WhatsApp Business Account was reconnected to the Cloud API after a device change "
    "or a re-registration of its phone number",
    "ACCOUNT_DELETED": "the WhatsApp Business Account was deleted at Meta",
    "ACCOUNT_VIOLATION": "Meta found the WhatsApp Business Account in violation of its policies",
    "ACCOUNT_RESTRICTION": "Meta restricted the WhatsApp Business Account",
    "DISABLED_UPDATE": "Meta disabled, or scheduled to disable, the WhatsApp Business Account",
}
# Account events that mean someone else may have taken control: (severity, rule), or no flag. The
# Partner events are matched against approved Partner changes (§Meta webhooks) before they flag.
LIFECYCLE: dict[str, tuple[str | None, str | None]] = {
    "ACCOUNT_OFFBOARDED": ("medium", "meta_account_offboarded"),
    "ACCOUNT_RECONNECTED": (None, None),
    "ACCOUNT_DELETED": ("high", "meta_account_deleted"),
}
LIFECYCLE_ADVICE = {
    "ACCOUNT_OFFBOARDED": "Someone registered the number on a WhatsApp Business app again, on this or a new "
    "device. If nobody in your business did, someone else may have taken the number: contact your provider.",
    "ACCOUNT_RECONNECTED": "The number's connection to the Cloud API is back after a device change. If nobody in "
    "your business changed devices or registered the number again, contact your provider.",
    "ACCOUNT_DELETED": "Someone with full control of your business at Meta deleted the WhatsApp Business Account. "
    "If nobody in your business did, your Meta business login is compromised: secure it and contact your provider.",
}
# Events after which wabaguard reads the WABA at once (§WABA watch): who controls it may have changed.
WATCH_NOW = frozenset(
    {
        "ACCOUNT_OFFBOARDED",
        "ACCOUNT_RECONNECTED",
        "ACCOUNT_DELETED",
        "PARTNER_APP_INSTALLED",
        "PARTNER_APP_UNINSTALLED",
        "PARTNER_ADDED",
        "PARTNER_REMOVED",
    }
)
PARTNER_LEFT = frozenset({"PARTNER_REMOVED", "PARTNER_APP_UNINSTALLED"})  # the others add a Partner
TEMPLATE_TOLD = frozenset({"REJECTED", "DISABLED", "FLAGGED", "PAUSED"})
NOT_YOU = (
    "If nobody in your business did this, someone else may control the number: re-register the number, "
    "set a new two-step verification PIN in WhatsApp Manager, revoke API keys, have every user replace "
    "their access token, and contact your provider."
)


def read(field_name: str, value: Any) -> Signal:
    """The meaning of one ``{"field", "value"}`` change (any shape: unknown ones are only recorded)."""
    value = value if isinstance(value, dict) else {}
    event = (_text(value.get("event"), 64) or "").upper()
    phone = phone_of(value)
    where = f"+{phone}" if phone else "a phone number of the account"
    if field_name == "security" and event in SECURITY_WORDS:
        high = event == "PIN_REQUEST_SUCCESS"
        return Signal(
            field_name,
            event,
            phone,
            notify=True,
            severity="high" if high else "medium",
            rule="meta_two_step_off" if high else "meta_pin_change",
            headline=SECURITY_WORDS[event].format(phone=where),
            advice=NOT_YOU,
            facts=[("Requested by (Meta)", r)] if (r := _text(value.get("requester"))) else [],
        )
    if field_name == "account_update" and event in ACCOUNT_WORDS:
        partner = event.startswith("PARTNER_")
        facts: list[tuple[str, str]] = []
        info = value.get("waba_info")
        info = info if isinstance(info, dict) else {}
        for label, key in (("Partner app", "partner_app_id"), ("Owner business", "owner_business_id")):
            if text := _text(info.get(key)):
                facts.append((label, text))
        refs = [_text(info.get("partner_app_id"), 32)]
        solution_partners = info.get("solution_partner_business_ids")
        if isinstance(solution_partners, list):
            refs += [_text(p, 32) for p in solution_partners[:10]]
            facts.append(("Solution Partners", ", ".join(r for r in refs[1:] if r) or "(none)"))
        if event == "DISABLED_UPDATE":
            facts.append(("Ban state", ", ".join(_ban_states(value)) or "(not given)"))
        for key in ("violation_info", "restriction_info"):
            if value.get(key):
                facts.append((key.replace("_", " ").capitalize(), str(value[key])[:300]))
        default: tuple[str | None, str | None] = (
            ("high", "meta_partner_change") if partner else ("medium", "meta_account_enforcement")
        )
        severity, rule = LIFECYCLE.get(event, default)
        return Signal(
            field_name,
            event,
            phone,
            notify=True,
            severity=severity,
            rule=rule,
            headline=ACCOUNT_WORDS[event],
            advice=LIFECYCLE_ADVICE.get(event) or (
                "A Partner controls what your WhatsApp Business Account sends. If you did not ask for this "
                "change in wabaguard, contact your provider at once and check the Partners in Meta Business "
                "Settings."
                if partner
                else "Read Meta's notice in WhatsApp Manager (Account quality) and act on it: messages may stop."
            ),
            facts=facts,
            partner_event=partner,
            partner_refs=tuple(r for r in refs if r),
        )
    if field_name == "message_template_status_update":
        reason = (_text(value.get("reason"), 64) or "").upper() or None
        name = _text(value.get("message_template_name"), 512)
        facts = [("Template", f"{name or '?'} ({_text(value.get('message_template_language'), 16) or '?'})")]
        if reason and reason != "NONE":
            facts.append(("Reason (Meta)", reason))
        told = event in TEMPLATE_TOLD
        scam = told and reason == "SCAM"
        return Signal(
            field_name,
            event,
            phone,
            notify=told,
            severity="medium" if scam else None,
            rule="meta_template_scam" if scam else None,
            headline=f'Meta set the message template "{name or "?"}" to {event or "an unknown status"}',
            advice=(
                "A template rejected for scam is a sign someone tried to send fraudulent messages in your "
                "name: check who created it (security events) and whether you expected it."
                if scam
                else "Check the template in WhatsApp Manager; messages using it may not be delivered."
            ),
            facts=facts,
            template_id=_text(value.get("message_template_id"), 64),
            template_status=event or None,
            reason=reason,
        )
    if field_name == "phone_number_name_update":
        decision = (_text(value.get("decision"), 32) or "").upper()
        name = _text(value.get("requested_verified_name"))
        facts = [("Requested display name", name or "(not given)"), ("Decision", decision or "(not given)")]
        if rejection := _text(value.get("rejection_reason")):
            facts.append(("Rejection reason", rejection))
        return Signal(
            field_name,
            decision or event,
            phone,
            notify=True,
            severity=None,
            rule=None,
            headline=f"Meta decided on a new display name for {where}: {decision or 'no decision given'}",
            advice="If nobody in your business asked for a new display name, contact your provider.",
            facts=facts,
        )
    return Signal(field_name, event, phone, False, None, None, f"Meta reported {field_name} {event}".strip(), "")
