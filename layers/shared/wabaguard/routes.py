"""The key actions of §API: method + path pattern, shared by the challenge issuer, the authorizer
and the API. Kept free of heavy imports because the authorizer loads it on every cold start."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wabaguard.config import API_STAGE

# A path parameter is any non-empty segment, as API Gateway matches it: an id that cannot exist
# (too long, ``%20``) is still a key action, refused later with 404 — never waved through.
_PARAM = "[^/]+"


@dataclass(frozen=True)
class KeyAction:
    name: str
    method: str
    pattern: str  # with the stage, as users write it: /v1/phone-numbers/{phone_number_id}/webhook

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"{(\w+)}", rf"(?P<\1>{_PARAM})", self.pattern) + "$")

    @property
    def resource(self) -> str:
        """The path as the template (and API Gateway's ``resource``) writes it, without the stage."""
        return self.pattern[len(API_STAGE) + 1 :]


KEY_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("create_template", "POST", f"/{API_STAGE}/accounts/{{account_id}}/templates"),
    KeyAction("update_profile", "PATCH", f"/{API_STAGE}/phone-numbers/{{phone_number_id}}/profile"),
    KeyAction("set_webhook_url", "PUT", f"/{API_STAGE}/phone-numbers/{{phone_number_id}}/webhook"),
    KeyAction("request_partner_change", "POST", f"/{API_STAGE}/accounts/{{account_id}}/partner-change-requests"),
    KeyAction("create_api_key", "POST", f"/{API_STAGE}/phone-numbers/{{phone_number_id}}/api-keys"),
    KeyAction("add_user", "POST", f"/{API_STAGE}/accounts/{{account_id}}/users"),
    KeyAction("remove_user", "DELETE", f"/{API_STAGE}/accounts/{{account_id}}/users/{{user_id}}"),
    KeyAction("enroll_totp", "POST", f"/{API_STAGE}/me/totp"),
    KeyAction("rotate_token", "POST", f"/{API_STAGE}/me/tokens"),
    KeyAction(
        "approve_partner_change",
        "POST",
        f"/{API_STAGE}/accounts/{{account_id}}/partner-change-requests/{{request_id}}/approve",
    ),
    KeyAction("set_security_webhook", "PUT", f"/{API_STAGE}/accounts/{{account_id}}/security-webhook"),
    KeyAction("remove_security_webhook", "DELETE", f"/{API_STAGE}/accounts/{{account_id}}/security-webhook"),
    KeyAction(
        "rotate_security_webhook_secret", "POST", f"/{API_STAGE}/accounts/{{account_id}}/security-webhook/rotate-secret"
    ),
)

_COMPILED = [(a, a.regex) for a in KEY_ACTIONS]
BY_NAME = {a.name: a for a in KEY_ACTIONS}
_BY_RESOURCE = {(a.method, a.resource): a for a in KEY_ACTIONS}


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
