"""The public API's OpenAPI 3 document, generated from the code.

Operations come from the handlers' Powertools resolvers (the functions the template routes to);
request bodies from the pydantic models that validate them (``wabaguard.schemas``); error
responses from the one error shape of §API. Nothing here is a hand-kept list of routes.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from devstack.cfn import Stack

ERRORS = {
    "400": "invalid_request: the named field is invalid",
    "401": "unauthorized: missing, unknown or revoked bearer token",
    "403": "forbidden, or an OTP problem (otp_required, otp_invalid, otp_expired, otp_used, otp_mismatch, otp_locked)",
    "404": "not_found",
    "409": "conflict",
    "413": "request_too_large",
    "423": "account_under_review",
    "429": "rate_limited (see Retry-After)",
    "503": "temporarily_unavailable (see Retry-After); nothing was done",
}
# POST routes that act on something existing rather than creating a resource.
ANSWER_200 = {
    ("POST", "/me/totp/confirm"),
    ("POST", "/otp/challenges/{challenge_id}/resend"),
    ("POST", "/ops/flags/{flag_id}/resolve"),
    ("POST", "/report/{token}"),
}
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


def _bodies() -> dict[tuple[str, str], dict[str, Any]]:
    """(method, stage-less path) → JSON schema of the request body."""
    from wabaguard import routes, schemas

    out = {(a.method, a.resource): schemas.BODY_SCHEMAS[a.name].model_json_schema() for a in routes.KEY_ACTIONS}
    out[("POST", "/otp/challenges")] = schemas.ChallengeRequest.model_json_schema()
    out[("POST", "/me/totp/confirm")] = schemas.TotpConfirm.model_json_schema()
    out[("POST", "/ops/flags/{flag_id}/resolve")] = schemas.FlagResolve.model_json_schema()
    return out


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve pydantic's local ``$defs`` so each body schema stands alone."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.split("/")[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


def build(stack: Stack | None = None) -> dict[str, Any]:
    stack = stack or Stack()
    routes = stack.routes()
    functions = stack.functions()
    bodies = _bodies()
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
                responses: dict[str, Any] = {success: {"description": "success"}}
                if success != "204":
                    responses[success]["content"] = {"application/json": {"schema": {}}}
                if path.startswith("/report/"):
                    page = {"text/html": {"schema": {"type": "string"}}}
                    responses = {
                        "200": {"description": "an HTML page", "content": page},
                        "404": {"description": "unknown or expired link", "content": page},
                    }
                else:
                    for status, text in ERRORS.items():
                        responses[status] = {
                            "description": text,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        }
                op["responses"] = responses
                if (route.method, path) in bodies:
                    op["requestBody"] = {
                        "required": route.method != "DELETE",
                        "content": {"application/json": {"schema": _inline_refs(dict(bodies[(route.method, path)]))}},
                    }
                if route.authorizer == "AWS_IAM":
                    op["security"] = [{"sigv4": []}]
                elif route.authorizer is None:
                    op["security"] = []
                paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "wabaguard",
            "version": "1",
            "description": "Account security for WhatsApp Business API providers (see README).",
        },
        "servers": [{"url": f"/{stack.stage()}"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS SigV4 (IAM); locally the ops token as Bearer",
                },
            },
        },
    }
