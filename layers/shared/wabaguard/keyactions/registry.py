"""What a key action is, declared once (§API, §OTP).

One entry per action says everything about it: its method and path, the body it takes (a model
of ``wabaguard.schemas``), who may make it (roles towards the account acted on), what it acts on,
the family module whose ``words_<name>`` says the request in words (the challenge email) and whose
``do_<name>`` performs it, its answer (a model of ``wabaguard.responses``) and status, the change
kind its notice describes and the security event that kind becomes, whether Meta must apply it
(§Platform), whether a review pauses it, and how a repeat replays (a stored answer, KMS-encrypted
when it carries a one-time secret).

The authorizer's key-action check, ``prepare`` and ``perform``, the notices, the security events,
the OpenAPI document and the template's routes all read this table; a unit test fails when an entry
lacks a part or the template disagrees. Kept free of heavy imports (no pydantic): the authorizer
loads it on every cold start; models and performers are looked up by name when an action runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wabaguard.config import API_STAGE
from wabaguard.people.access import ADMINS, EVERY_ROLE, Role

# A path parameter is any non-empty segment, as API Gateway matches it: an id that cannot exist
# (too long, ``%20``) is still a key action, refused later with 404 — never waved through.
_PARAM = "[^/]+"

ANSWER = "answer"  # a repeat gets the stored answer again
SECRET = "secret"  # the same, stored KMS-encrypted: the answer carries a one-time secret


@dataclass(frozen=True)
class KeyAction:
    name: str
    method: str
    path: str  # without the stage, as the template and API Gateway's ``resource`` write it
    summary: str  # a few words, for the API description and the notices
    family: str  # the module of ``wabaguard.keyactions`` with ``words_<name>`` and ``do_<name>``
    body: str  # the request model in ``wabaguard.schemas``
    response: str | None  # the answer's model in ``wabaguard.responses`` (None: no body)
    status: int
    roles: frozenset[Role]
    target: str  # "account" ({account_id}), "phone" ({phone_number_id}) or "self" (the caller's own)
    notice: str  # the change kind it writes; the notifier describes it, the events type it
    event: str  # the security event type of that change (§Security webhooks)
    meta: bool = False  # applied at Meta through the Graph API (§Platform)
    review_pauses: bool = True  # under review it answers 423 (§Risk)
    replay: str = ANSWER

    @property
    def pattern(self) -> str:
        """The path as users write it, with the stage: ``/v1/phone-numbers/{phone_number_id}/webhook``."""
        return f"/{API_STAGE}{self.path}"

    @property
    def resource(self) -> str:
        """The path as the template (and API Gateway's ``resource``) writes it, without the stage."""
        return self.path

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"{(\w+)}", rf"(?P<\1>{_PARAM})", self.pattern) + "$")


KEY_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction(
        "create_template", "POST", "/accounts/{account_id}/templates", "Create a message template",
        family="content", body="TemplateCreate", response="Template", status=201, roles=EVERY_ROLE,
        target="account", notice="template_created", event="template.created", meta=True,
    ),
    KeyAction(
        "update_profile", "PATCH", "/phone-numbers/{phone_number_id}/profile", "Change a business profile",
        family="content", body="ProfileUpdate", response="Profile", status=200, roles=EVERY_ROLE,
        target="phone", notice="profile_updated", event="profile.updated", meta=True,
    ),
    KeyAction(
        "set_webhook_url", "PUT", "/phone-numbers/{phone_number_id}/webhook", "Set a phone number's webhook URL",
        family="integration", body="WebhookChange", response="Webhook", status=200, roles=EVERY_ROLE,
        target="phone", notice="webhook_url_set", event="webhook_url.changed", meta=True,
    ),
    KeyAction(
        "request_partner_change", "POST", "/accounts/{account_id}/partner-change-requests",
        "Request a Partner change", family="partner", body="PartnerChange", response="PartnerChangeRequest",
        status=201, roles=ADMINS, target="account", notice="partner_change_requested",
        event="partner_change.requested",
    ),
    KeyAction(
        "create_api_key", "POST", "/phone-numbers/{phone_number_id}/api-keys", "Create an API key",
        family="integration", body="ApiKeyCreate", response="NewApiKey", status=201, roles=EVERY_ROLE,
        target="phone", notice="api_key_created", event="api_key.created", replay=SECRET,
    ),
    KeyAction(
        "add_user", "POST", "/accounts/{account_id}/users", "Add a user",
        family="people", body="UserAdd", response="NewUser", status=201, roles=ADMINS,
        target="account", notice="user_added", event="user.added", replay=ANSWER,
    ),
    KeyAction(
        "remove_user", "DELETE", "/accounts/{account_id}/users/{user_id}", "Remove a user",
        family="people", body="Empty", response=None, status=204, roles=ADMINS,
        target="account", notice="user_removed", event="user.removed",
    ),
    KeyAction(
        "enroll_totp", "POST", "/me/totp", "Enroll an authenticator app",
        family="people", body="Empty", response="TotpEnrollment", status=201, roles=EVERY_ROLE,
        target="self", notice="totp_enrolled", event="authenticator.enrolled", replay=SECRET,
    ),
    KeyAction(
        "set_user_email", "PUT", "/accounts/{account_id}/users/{user_id}/email", "Change a user's email address",
        family="people", body="EmailChange", response="UserEmail", status=200, roles=ADMINS,
        target="account", notice="user_email_changed", event="user.email_changed",
    ),
    KeyAction(
        "set_my_email", "PUT", "/me/email", "Change your email address",
        family="people", body="EmailChange", response="UserEmail", status=200, roles=EVERY_ROLE,
        target="self", notice="own_email_changed", event="user.email_changed",
    ),
    KeyAction(
        "rotate_token", "POST", "/me/tokens", "Replace your access token",
        family="people", body="Empty", response="NewToken", status=201, roles=EVERY_ROLE,
        target="self", notice="token_rotated", event="access_token.replaced", replay=SECRET,
    ),
    KeyAction(
        "approve_partner_change", "POST", "/accounts/{account_id}/partner-change-requests/{request_id}/approve",
        "Approve a Partner change", family="partner", body="Empty", response="PartnerChangeRequest",
        status=200, roles=frozenset({Role.ACCOUNT_ADMIN}), target="account",
        notice="partner_change_approved", event="partner_change.approved",
    ),
    KeyAction(
        "set_security_webhook", "PUT", "/accounts/{account_id}/security-webhook", "Set the security webhook",
        family="integration", body="SecurityWebhookSet", response="SecurityWebhookWithSecret", status=200,
        roles=ADMINS, target="account", notice="security_webhook_set", event="security_webhook.updated",
        replay=SECRET,
    ),
    KeyAction(
        "remove_security_webhook", "DELETE", "/accounts/{account_id}/security-webhook",
        "Remove the security webhook", family="integration", body="Empty", response=None, status=204,
        roles=ADMINS, target="account", notice="security_webhook_removed", event="security_webhook.removed",
    ),
    KeyAction(
        "rotate_security_webhook_secret", "POST", "/accounts/{account_id}/security-webhook/rotate-secret",
        "Replace the security webhook's secret", family="integration", body="Empty",
        response="SecurityWebhookWithSecret", status=200, roles=ADMINS, target="account",
        notice="security_webhook_rotated", event="security_webhook.secret_rotated", replay=SECRET,
    ),
    KeyAction(
        "register_passkey", "POST", "/me/passkeys", "Register a passkey",
        family="passkeys", body="PasskeyRegister", response="Passkey", status=201, roles=EVERY_ROLE,
        target="self", notice="passkey_registered", event="passkey.registered",
    ),
    KeyAction(
        "remove_passkey", "DELETE", "/me/passkeys/{passkey_id}", "Remove a passkey",
        family="passkeys", body="Empty", response=None, status=204, roles=EVERY_ROLE,
        target="self", notice="passkey_removed", event="passkey.removed",
    ),
    KeyAction(
        "set_security_policy", "PUT", "/accounts/{account_id}/security-policy", "Set the security policy",
        family="passkeys", body="SecurityPolicySet", response="SecurityPolicy", status=200, roles=ADMINS,
        target="account", notice="security_policy_set", event="security_policy.updated",
    ),
)  # fmt: skip

BY_NAME = {a.name: a for a in KEY_ACTIONS}
BY_NOTICE = {a.notice: a for a in KEY_ACTIONS}
_BY_RESOURCE = {(a.method, a.resource): a for a in KEY_ACTIONS}
_COMPILED = [(a, a.regex) for a in KEY_ACTIONS]
APPLIED_AT_META = frozenset(a.name for a in KEY_ACTIONS if a.meta)


def by_resource(method: str, resource: str | None) -> KeyAction | None:
    """The key action API Gateway routed to, from the method and the *resource* it matched
    (``/phone-numbers/{phone_number_id}/webhook``): exactly the gateway's own decision."""
    return _BY_RESOURCE.get((method.upper(), resource or ""))


def match(method: str, path: str) -> tuple[KeyAction, dict[str, str]] | None:
    """The key action a concrete request is, with its path parameters; None if it is not one."""
    method = method.upper()
    for action, regex in _COMPILED:
        if action.method == method:
            m = regex.match(path)
            if m:
                return action, m.groupdict()
    return None


def stage_path(stage: str, path: str) -> str:
    """The concrete path a user sees (``/v1/...``) from API Gateway's stage and stage-less path."""
    return f"/{stage}{path}" if not path.startswith(f"/{stage}/") else path
