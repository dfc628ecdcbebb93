"""REQUEST authorizer on every route: the decision is ``otp.gate.decide`` (bearer credential, then
the OTP of key actions); this handler reads the event and turns the decision into a policy.

Fails closed: an unknown token raises ``Unauthorized`` (401); an OTP problem returns a Deny whose
context carries the §OTP JSON body for the ACCESS_DENIED gateway response; any other error
propagates, which API Gateway answers with AUTHORIZER_FAILURE (503) — never an Allow.

The event is read as the dict it is, not through Powertools' authorizer data class: importing
``utilities.data_classes`` loads every event class Powertools has (~25 ms of a cold start on the
function that runs before every request, issue #23/#26); the handful of fields read here are the
REQUEST authorizer's documented shape, and a unit test holds the policy to Powertools' own.
"""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

import json
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.activity import request_meta
from wabaguard.otp import gate

logger = observability.logger()
metrics = Metrics()


def header(event: dict[str, Any], name: str) -> str:
    """A request header, matched without regard to case (clients send any case)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value or "")
    return ""


def statement(effect: str, resource: str | list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
    }


def every_route(method_arn: str) -> str:
    """The stage's every method and path: ``arn:…:api_id/stage/*/*`` from this request's method ARN."""
    prefix, _, route = method_arn.partition("/")
    stage = route.split("/", 1)[0]
    return f"{prefix}/{stage}/*/*"


def deny(event: dict[str, Any], principal_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A Deny of every route whose context is the JSON body the gateway response shows."""
    reason = str(body.get("error"))
    with single_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="reason", value=reason)  # a handful of §OTP reasons: low cardinality
    logger.info("denied", extra={"reason": reason, "principal": principal_id})
    return {
        "principalId": principal_id,
        "policyDocument": statement("Deny", [every_route(str(event["methodArn"]))]),
        "context": {"body": json.dumps(body), "error": reason},
    }


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    context_ = event.get("requestContext") or {}
    identity = context_.get("identity") or {}
    request = gate.Request(
        authorization=header(event, "Authorization"),
        method=str(event.get("httpMethod") or ""),
        resource=str(event.get("resource") or ""),
        path=str(event.get("path") or ""),
        stage=str(context_.get("stage") or ""),
        challenge_id=header(event, "X-OTP-Challenge"),
        code=header(event, "X-OTP-Code"),
        passkey=header(event, "X-OTP-Passkey"),
        meta=request_meta(identity.get("sourceIp"), identity.get("userAgent"), context_.get("requestId")),
    )
    try:
        decision = gate.decide(request)
    except gate.Unauthenticated:
        raise Exception("Unauthorized") from None  # API Gateway's words for a 401
    if decision.outcome == "verified":
        metrics.add_metric(name="OtpVerified", unit=MetricUnit.Count, value=1)
    elif decision.outcome == "locked":
        metrics.add_metric(name="OtpLocked", unit=MetricUnit.Count, value=1)
    elif decision.outcome == "failed":
        metrics.add_metric(name="OtpFailed", unit=MetricUnit.Count, value=1)
    if not decision.allow:
        return deny(event, decision.principal_id, decision.denied or {"error": "forbidden"})
    # Allow exactly this method ARN (caching is off, so the policy never serves another request).
    allow = statement("Allow", str(event["methodArn"]))
    return {"principalId": decision.principal_id, "policyDocument": allow, "context": decision.context}


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
