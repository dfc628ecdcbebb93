"""API Gateway (REST, one stage) as the template describes it, for the local stack and e2e tests.

Routes come from the functions' ``Api`` events; the REQUEST authorizer is invoked with a real
authorizer event, its IAM policy evaluated against the method ARN and its context passed on;
gateway responses are rendered from the template's ``GatewayResponses``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.cfn import LOCAL_API_ID, Route, Stack
from devstack.iam import Policy, Request
from devstack.runtime import Functions
from devstack.waf import Waf

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's own limit

DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INVALID_SIGNATURE": 403,
    "REQUEST_TOO_LARGE": 413,
    "THROTTLED": 429,
    "BAD_REQUEST_BODY": 400,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 502,
}
DEFAULT_MESSAGE = {
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "AUTHORIZER_FAILURE": None,
    "AUTHORIZER_CONFIGURATION_ERROR": None,
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "DEFAULT_5XX": "Internal server error",
}


@dataclass
class HttpRequest:
    method: str
    target: str  # path and query as received
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Gateway:
    """Routes stage requests to handlers through the authorizer, as API Gateway does."""

    def __init__(self, stack: Stack, functions: Functions) -> None:
        self.stack = stack
        self.functions = functions
        self.stage = stack.stage()
        self.routes: list[Route] = stack.routes()
        self.responses = stack.gateway_responses()
        self.waf = Waf(stack)

    # ------------------------------------------------------------ entry
    def handle(self, req: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        split = urlsplit(req.target)
        full_path = split.path
        blocked = self.waf.check(req.source_ip, full_path)  # WAF sits in front of the stage
        if blocked is not None:
            return HttpResponse(blocked.status, dict(blocked.headers), blocked.body)
        prefix = f"/{self.stage}"
        if not (full_path == prefix or full_path.startswith(prefix + "/")):
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id)
        path = full_path[len(prefix) :] or "/"
        if len(req.body) > MAX_PAYLOAD:
            return self.gateway_response("REQUEST_TOO_LARGE", request_id)
        route, params = self._match(req.method.upper(), path)
        if route is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id)

        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in req.headers:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        query_multi = {k: v for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        query = {k: v[-1] for k, v in query_multi.items()} or None
        now_ms = int(time.time() * 1000)
        user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
        request_context: dict[str, Any] = {
            "accountId": self.stack.account,
            "apiId": LOCAL_API_ID,
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "extendedRequestId": request_id,
            "httpMethod": req.method.upper(),
            "identity": {
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
            },
            "path": full_path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": now_ms,
            "resourceId": "local",
            "resourcePath": route.path,
            "stage": self.stage,
        }
        method_arn = (
            f"arn:aws:execute-api:{self.stack.region}:{self.stack.account}:{LOCAL_API_ID}/"
            f"{self.stage}/{req.method.upper()}{path}"
        )

        if route.authorizer == "AWS_IAM":
            identity = self._local_iam(headers)
            if identity is None:
                return self.gateway_response("INVALID_SIGNATURE", request_id)
            request_context["identity"].update(identity)
        elif route.authorizer:
            outcome = self._authorize(
                route, method_arn, path, headers, multi_headers, query, query_multi, params, request_context, request_id
            )
            if isinstance(outcome, HttpResponse):
                return outcome
            request_context["authorizer"] = outcome

        try:
            text_body = req.body.decode("utf-8")
            is_b64 = False
        except UnicodeDecodeError:
            text_body, is_b64 = base64.b64encode(req.body).decode(), True
        event = {
            "resource": route.path,
            "path": path,
            "httpMethod": req.method.upper(),
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": query_multi or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": text_body if req.body else None,
            "isBase64Encoded": is_b64,
        }
        try:
            result = self.functions.invoke(route.function, event)
            return self._proxy_response(result)
        except Exception:  # noqa: BLE001 - Lambda errors become 502, as on API Gateway
            traceback.print_exc()
            return self.gateway_response("DEFAULT_5XX", request_id)

    def _local_iam(self, headers: dict[str, str]) -> dict[str, str] | None:
        """Stands in for SigV4 on ``AWS_IAM`` routes: the local ops token (``demo.json`` → ``ops``)."""
        expected = os.environ.get("WABAGUARD_LOCAL_OPS_TOKEN_SHA256", "")
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = value.partition(" ")
        if not expected or scheme.lower() != "bearer" or not token:
            return None
        if not hmac.compare_digest(hashlib.sha256(token.strip().encode()).hexdigest(), expected):
            return None
        arn = f"arn:aws:iam::{self.stack.account}:user/local-ops"
        return {
            "userArn": arn,
            "user": "AIDALOCALOPS",
            "caller": "AIDALOCALOPS",
            "accountId": self.stack.account,
            "accessKey": "ASIALOCALOPS",
        }

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            m = route.pattern.match(path)
            if m and route.method in (method, "ANY"):
                return route, dict(zip(route.params, m.groups(), strict=True))
        return None, {}

    # ------------------------------------------------------------ authorizer
    def _authorize(
        self,
        route: Route,
        method_arn: str,
        path: str,
        headers: dict[str, str],
        multi_headers: dict[str, list[str]],
        query: dict[str, str] | None,
        query_multi: dict[str, list[str]],
        params: dict[str, str],
        request_context: dict[str, Any],
        request_id: str,
    ) -> HttpResponse | dict[str, Any]:
        _, api_props = self.stack.api()
        auth_spec = api_props["Auth"]["Authorizers"][route.authorizer]
        identity_headers = auth_spec.get("Identity", {}).get("Headers", [])
        lower = {k.lower(): v for k, v in headers.items()}
        for name in identity_headers:
            if not lower.get(name.lower()):
                return self.gateway_response("UNAUTHORIZED", request_id)
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": route.path,
            "path": path,
            "httpMethod": route.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or {},
            "multiValueQueryStringParameters": query_multi,
            "pathParameters": params,
            "stageVariables": {},
            "requestContext": request_context,
        }
        fn = self.stack.authorizer_function(route.authorizer or "")
        try:
            result = self.functions.invoke(fn, event)
        except Exception as exc:  # noqa: BLE001
            if str(exc) == "Unauthorized":
                return self.gateway_response("UNAUTHORIZED", request_id)
            traceback.print_exc()
            return self.gateway_response("AUTHORIZER_FAILURE", request_id)
        if not isinstance(result, dict) or "principalId" not in result or "policyDocument" not in result:
            return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", request_id)
        context = {k: v for k, v in (result.get("context") or {}).items() if isinstance(v, (str, int, float, bool))}
        if not policy_allows(result["policyDocument"], method_arn):
            return self.gateway_response("ACCESS_DENIED", request_id, authorizer=context)
        return {
            **{k: str(v) if not isinstance(v, str) else v for k, v in context.items()},
            "principalId": str(result["principalId"]),
            "integrationLatency": 0,
        }

    # ------------------------------------------------------------ responses
    def _proxy_response(self, result: Any) -> HttpResponse:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            return self.gateway_response("DEFAULT_5XX", "malformed")
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(k)] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        return HttpResponse(result["statusCode"], headers, raw)

    def gateway_response(self, kind: str, request_id: str, authorizer: dict[str, Any] | None = None) -> HttpResponse:
        """Render a gateway response as the template defines it (falling back to DEFAULT_4XX/5XX)."""
        default = DEFAULT_STATUS.get(kind, 500)
        family = "DEFAULT_4XX" if default < 500 else "DEFAULT_5XX"
        spec = self.responses.get(kind) or {}
        family_spec = self.responses.get(family) or {}
        status = int(spec.get("StatusCode") or default)
        template = (spec.get("ResponseTemplates") or family_spec.get("ResponseTemplates") or {}).get(
            "application/json", '{"message":$context.error.messageString}'
        )
        headers = {"Content-Type": "application/json"}
        for source in (family_spec, spec):
            for name, value in ((source.get("ResponseParameters") or {}).get("Headers") or {}).items():
                headers[name] = str(value).strip("'")
        message = DEFAULT_MESSAGE.get(kind, DEFAULT_MESSAGE["DEFAULT_5XX"] if default >= 500 else "Bad request")
        variables = {
            "context.error.messageString": json.dumps(message),
            "context.error.message": message or "",
            "context.error.responseType": kind,
            "context.requestId": request_id,
        }
        for key, value in (authorizer or {}).items():
            variables[f"context.authorizer.{key}"] = str(value)

        def sub(match: re.Match[str]) -> str:
            return variables.get(match.group(1), "")

        body = re.sub(r"\$(context(?:\.[A-Za-z0-9_]+)+)", sub, template)
        return HttpResponse(status, headers, body.encode("utf-8"))


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer's policy for execute-api:Invoke (an explicit Deny wins)."""
    statements = policy.get("Statement", [])
    return Policy("authorizer", [statements] if isinstance(statements, dict) else list(statements)).allows(
        Request("execute-api:Invoke", method_arn)
    )
