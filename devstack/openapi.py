"""The public API's OpenAPI 3 document, generated from the code.

Operations come from the handlers' Powertools resolvers (the functions the template routes to);
request bodies from the pydantic models that validate them (``wabaguard.schemas``); error
responses from the one error shape of §API. Nothing here is a hand-kept list of routes.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from devstack.cfn import Stack

ERRORS = {
    "400": "invalid_request: the named field is invalid (or the body is not JSON)",
    "401": "unauthorized: missing, unknown or revoked bearer token",
    "403": "forbidden (role, API key scope), or an OTP problem: otp_required, otp_invalid, otp_expired, "
    "otp_used, otp_mismatch (+ attempts_left), otp_locked",
    "404": "not_found: no such resource, or one of another tenant (answered alike)",
    "409": "conflict: the resource is in another state (already revoked, last admin, already onboarded, ...)",
    "413": "request_too_large",
    "423": "account_under_review: key actions are paused until ops resolve the review",
    "429": "rate_limited (see Retry-After): per source (WAF), per credential, or the challenge quota",
    "503": "temporarily_unavailable (see Retry-After); nothing was done",
}
# Statuses beyond the ones every route of its kind can answer (see ``_errors``).
CONFLICTS = {
    ("DELETE", "/phone-numbers/{phone_number_id}/api-keys/{key_id}"),
    ("POST", "/me/totp/confirm"),
    ("POST", "/ops/flags/{flag_id}/resolve"),
    ("POST", "/ops/accounts"),
    ("POST", "/ops/accounts/{account_id}/users/{user_id}/reset-authenticator"),
    ("PUT", "/accounts/{account_id}/security-webhook"),
    ("DELETE", "/accounts/{account_id}/security-webhook"),
    ("POST", "/accounts/{account_id}/security-webhook/rotate-secret"),
    ("POST", "/accounts/{account_id}/security-webhook/deliveries/{delivery_id}/redeliver"),
    ("POST", "/accounts/{account_id}/partner-change-requests"),
    ("POST", "/accounts/{account_id}/partner-change-requests/{request_id}/cancel"),
    ("POST", "/accounts/{account_id}/partner-change-requests/{request_id}/approve"),
}
OTP_HEADERS = [
    {
        "name": "X-OTP-Challenge",
        "in": "header",
        "required": True,
        "description": "the challenge_id of POST /otp/challenges issued for exactly this method, path and body",
        "schema": {"type": "string", "maxLength": 80},
    },
    {
        "name": "X-OTP-Code",
        "in": "header",
        "required": False,
        "description": "the code from the email or the authenticator app (or a recovery code); a passkey "
        "challenge is answered with X-OTP-Passkey instead, or with X-OTP-Challenge alone once approved on "
        "its approval page",
        "schema": {"type": "string", "maxLength": 64},
    },
    {
        "name": "X-OTP-Passkey",
        "in": "header",
        "required": False,
        "description": "a passkey challenge's answer: base64url of the AuthenticationResponseJSON that "
        "navigator.credentials.get returned for the challenge's passkey options",
        "schema": {"type": "string", "maxLength": 16384},
    },
]
# POST routes that act on something existing rather than creating a resource.
ANSWER_200 = {
    ("POST", "/me/totp/confirm"),
    ("POST", "/otp/challenges/{challenge_id}/resend"),
    ("POST", "/ops/flags/{flag_id}/resolve"),
    ("POST", "/ops/accounts/{account_id}/users/{user_id}/reset-authenticator"),
    ("POST", "/report/{token}"),
    ("POST", "/accounts/{account_id}/security-webhook/rotate-secret"),
    ("POST", "/accounts/{account_id}/partner-change-requests/{request_id}/cancel"),
    ("POST", "/accounts/{account_id}/partner-change-requests/{request_id}/approve"),
    ("POST", "/partner-change/cancel/{token}"),
    ("POST", "/invite/{token}"),
    ("POST", "/ops/accounts/{account_id}/users/{user_id}/recover"),
    ("POST", "/me/passkeys/options"),
    ("POST", "/approve/{token}"),
}
ANSWER_202 = {("POST", "/accounts/{account_id}/security-webhook/deliveries/{delivery_id}/redeliver")}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "attempts_left": {"type": "integer"},
    },
}


def _bodies() -> dict[tuple[str, str], type[Any]]:
    """(method, stage-less path) → the pydantic model of the request body."""
    from wabaguard import schemas
    from wabaguard.keyactions import registry as routes

    out: dict[tuple[str, str], type[Any]] = {
        (a.method, a.resource): getattr(schemas, a.body) for a in routes.KEY_ACTIONS
    }
    out[("POST", "/otp/challenges")] = schemas.ChallengeRequest
    out[("POST", "/me/totp/confirm")] = schemas.TotpConfirm
    out[("POST", "/ops/flags/{flag_id}/resolve")] = schemas.FlagResolve
    out[("POST", "/ops/accounts")] = schemas.Onboard
    out[("POST", "/approve/{token}")] = schemas.PasskeyApproval
    return out


class Components:
    """Named schemas: every pydantic model (and the models it uses) once, referenced by name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, model: type[Any], name: str | None = None) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub, definition in schema.pop("$defs", {}).items():
            self._add(sub, definition)
        name = name or model.__name__
        self._add(name, schema)
        return {"$ref": f"#/components/schemas/{name}"}

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        if name in self.schemas and self.schemas[name] != schema:
            raise ValueError(f"two different schemas are both named {name}: rename one model")
        self.schemas[name] = schema


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}, "page size")
CURSOR = _query("cursor", {"type": "string", "maxLength": 2048}, "the next_cursor of the previous page")
# The query strings the handlers read (they parse them themselves, so Powertools cannot see them).
QUERIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("GET", "/ops/flags"): [
        _query("status", {"type": "string", "enum": ["open", "resolved", "audit"], "default": "open"}, "flag status"),
        _query("severity", {"type": "string", "enum": ["low", "medium", "high"]}, "only this severity"),
        LIMIT,
        CURSOR,
    ],
    ("GET", "/accounts/{account_id}/security-events"): [LIMIT, CURSOR],
    ("GET", "/accounts/{account_id}/security-webhook/deliveries"): [LIMIT],
}


# Routes are tagged by capability: the first prefix that matches names the tag.
TAGS: list[tuple[str, str, str]] = [
    ("/meta/webhook", "meta", "Meta's account webhooks (signed by Meta)"),
    ("/otp/", "otp", "One-time passwords: the challenge a key action needs"),
    ("/me/passkeys", "passkeys", "Passkeys: approvals signed over the exact request, the policy, receipts"),
    ("/approve/", "passkeys", "Passkeys: approvals signed over the exact request, the policy, receipts"),
    (
        "/accounts/{account_id}/security-policy",
        "passkeys",
        "Passkeys: approvals signed over the exact request, the policy, receipts",
    ),
    (
        "/accounts/{account_id}/approvals/",
        "passkeys",
        "Passkeys: approvals signed over the exact request, the policy, receipts",
    ),
    ("/me", "me", "The caller: who they are, their access token, their authenticator app"),
    ("/accounts/{account_id}/partner-change-requests", "partner-change", "Moving a WABA to another Partner"),
    ("/partner-change/", "partner-change", "Moving a WABA to another Partner"),
    ("/accounts/{account_id}/security-webhook", "security-webhook", "Signed security events to your systems"),
    ("/accounts/{account_id}/users", "people", "Users of an account, and their invites"),
    ("/invite/", "people", "Users of an account, and their invites"),
    ("/accounts/{account_id}/templates", "templates", "Message templates"),
    ("/phone-numbers/{phone_number_id}/api-keys", "api-keys", "A phone number's API keys"),
    ("/phone-numbers/", "phone-numbers", "Phone numbers: business profile and webhook URL"),
    ("/accounts/{account_id}/security-events", "monitoring", "Audit log, flags and reports"),
    ("/accounts/{account_id}/flags", "monitoring", "Audit log, flags and reports"),
    ("/report/", "monitoring", "Audit log, flags and reports"),
    ("/ops/", "ops", "wabaguard's operators (IAM): onboarding, reviews, recovery"),
    ("/openapi.json", "api", "This description"),
]


def tag_of(path: str) -> str:
    return next(tag for prefix, tag, _ in TAGS if path.startswith(prefix))


def operation_id(generated: str, path: str, method: str, key_action: str | None) -> str:
    """The action's name: a key action's registry name, else the handler function's name
    (Powertools appends the path and method to it; they are taken off again)."""
    if key_action:
        return key_action
    suffix = re.sub(r"\W", "_", path) + f"_{method}"
    return generated.removesuffix(suffix)


def _errors(method: str, path: str, authorizer: str | None, key_action: bool, has_body: bool) -> list[str]:
    """The error statuses one route can answer, from what it is (not a list per route)."""
    if path.startswith("/approve/"):  # the approval page's answer: the passkey's assertion is the credential
        return ["400", "403", "404", "409", "413"]
    if authorizer is None:  # the report page: its token is the credential
        return []
    out = {"429", "503"}
    out.add("403" if authorizer == "AWS_IAM" else "401")
    if "{" in path:
        out.add("404")
    if has_body or method in ("POST", "PUT", "PATCH"):
        out |= {"400", "413"}
    if key_action:
        out |= {"400", "403", "404", "409", "423"}
    if path.startswith("/accounts/") or path.startswith("/phone-numbers/") or path.startswith("/me/"):
        out.add("403")  # API keys and members are scoped
    if path.startswith("/otp/"):
        out |= {"403", "423"}
    if (method, path) in CONFLICTS:
        out.add("409")
    if (method, path) in QUERIES:
        out.add("400")  # a query string that is not what the parameters say
    if path == "/me/totp/confirm":
        out.add("423")
    return sorted(out)


def build(stack: Stack | None = None) -> dict[str, Any]:
    from wabaguard.keyactions import registry as key_routes
    from wabaguard.responses import SUCCESS

    stack = stack or Stack()
    actions = {(a.method, a.resource): a.name for a in key_routes.KEY_ACTIONS}
    routes = stack.routes()
    functions = stack.functions()
    bodies = _bodies()
    components = Components()
    paths: dict[str, Any] = {}
    for logical_id in sorted({r.function for r in routes}):
        app = importlib.import_module(functions[logical_id].module).app
        spec = json.loads(app.get_openapi_json_schema(title="wabaguard", version="1"))
        for path, ops in spec.get("paths", {}).items():
            for method, op in ops.items():
                route = next((r for r in routes if r.path == path and r.method == method.upper()), None)
                if route is None:
                    continue  # served by the code but not routed by the template: not public
                op.pop("responses", None)
                success = {"post": "201", "delete": "204"}.get(method, "200")
                if (route.method, path) in ANSWER_200:
                    success = "200"
                if (route.method, path) in ANSWER_202:
                    success = "202"
                key_action = (route.method, path) in actions
                responses: dict[str, Any] = {success: {"description": "success"}}
                model = SUCCESS.get((route.method, path))
                if success != "204":
                    schema = components.ref(model) if model else {"type": "object"}
                    responses[success]["content"] = {"application/json": {"schema": schema}}
                if key_action:
                    responses[success]["headers"] = {
                        "Idempotent-Replayed": {
                            "description": "true when this answers the same user's retry of a request that "
                            "succeeded (within 10 minutes); nothing was done again",
                            "schema": {"type": "string", "enum": ["true"]},
                        },
                        "Approval-Receipt": {
                            "description": "approved with a passkey: the path of the approval's receipt "
                            "(GET /v1/accounts/{account_id}/approvals/{change_id})",
                            "schema": {"type": "string"},
                        },
                    }
                    op["parameters"] = [*op.get("parameters", []), *OTP_HEADERS]
                    op["x-wabaguard-key-action"] = actions[(route.method, path)]
                    op["description"] = (
                        f"Key action `{actions[(route.method, path)]}`: needs a one-time password. Ask for a "
                        "challenge with POST /otp/challenges for exactly this method, path and body, then repeat "
                        "the request with the X-OTP-Challenge and X-OTP-Code headers."
                    )
                if path == "/meta/webhook":  # Meta's callback: the signature (or verify token) is the credential
                    text = {"text/plain": {"schema": {"type": "string"}}}
                    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                    responses = (
                        {
                            "200": {"description": "hub.challenge, as plain text", "content": text},
                            "400": {
                                "description": "hub.mode, hub.verify_token or hub.challenge missing",
                                "content": error,
                            },
                            "403": {"description": "verify token mismatch", "content": error},
                        }
                        if method == "get"
                        else {
                            "200": {
                                "description": "recorded",
                                "content": {"application/json": {"schema": {"type": "object"}}},
                            },
                            "400": {"description": ERRORS["400"], "content": error},
                            "401": {"description": "X-Hub-Signature-256 missing or wrong", "content": error},
                            "413": {"description": ERRORS["413"], "content": error},
                        }
                    )
                elif path.startswith(("/report/", "/partner-change/cancel/", "/invite/")) or (
                    path.startswith("/approve/") and method == "get"
                ):
                    page = {"text/html": {"schema": {"type": "string"}}}
                    responses = {
                        "200": {"description": "an HTML page", "content": page},
                        "404": {"description": "unknown or expired link", "content": page},
                    }
                else:
                    has_body = (route.method, path) in bodies
                    for status in _errors(route.method, path, route.authorizer, key_action, has_body):
                        responses[status] = {
                            "description": ERRORS[status],
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        }
                op["responses"] = responses
                if (route.method, path) in bodies:
                    op["requestBody"] = {
                        "required": route.method != "DELETE",
                        "content": {"application/json": {"schema": components.ref(bodies[(route.method, path)])}},
                    }
                op["operationId"] = operation_id(
                    str(op.get("operationId", "")), path, method, actions.get((route.method, path))
                )
                op["tags"] = [tag_of(path)]
                if (route.method, path) in QUERIES:
                    op["parameters"] = [*op.get("parameters", []), *QUERIES[(route.method, path)]]
                if route.authorizer == "AWS_IAM":
                    op["security"] = [{"sigv4": []}]
                elif route.authorizer is None:
                    op["security"] = []
                paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wabaguard",
            "version": "1",
            "description": "Account security for WhatsApp Business API providers (see README).",
        },
        "servers": [{"url": f"/{stack.stage()}"}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": tag, "description": words} for tag, words in dict((tag, words) for _, tag, words in TAGS).items()
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a user's access token (wgu_…) or a phone number's API key (wgk_…)",
                },
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS Signature Version 4 (IAM, service execute-api) — tools/onboard.py signs "
                    "with botocore; locally the ops token of .local/demo.json as Bearer",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
            },
        },
    }


if __name__ == "__main__":
    import os
    import sys

    from devstack.server import local_environment

    os.environ.update(local_environment(None, "us-east-1"))
    os.environ.update(Stack().environment())
    if "--security-events" in sys.argv:  # the JSON Schema of the events security webhooks receive
        from wabaguard.webhooks.events import json_schema

        sys.stdout.write(json.dumps(json_schema(), indent=1, sort_keys=True) + "\n")
    else:
        sys.stdout.write(json.dumps(build(), indent=1, sort_keys=True) + "\n")
