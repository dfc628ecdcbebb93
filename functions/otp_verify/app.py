"""REQUEST authorizer on every route: the decision is ``otp.gate.decide`` (bearer credential, then
the OTP of key actions); this handler reads the event and turns the decision into a policy.

Fails closed: an unknown token raises ``Unauthorized`` (401); an OTP problem returns a Deny whose
context carries the §OTP JSON body for the ACCESS_DENIED gateway response; any other error
propagates, which API Gateway answers with AUTHORIZER_FAILURE (503) — never an Allow.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.activity import meta_of
from wabaguard.otp import gate

logger = observability.logger()
metrics = Metrics()


def deny(event: APIGatewayAuthorizerRequestEvent, principal_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A Deny for this request whose context is the JSON body the gateway response shows."""
    reason = str(body.get("error"))
    with single_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="reason", value=reason)  # a handful of §OTP reasons: low cardinality
    logger.info("denied", extra={"reason": reason, "principal": principal_id})
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"body": json.dumps(body), "error": reason},
        partition=arn.partition,
    )
    policy.deny_all_routes()
    return policy.asdict()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ev = APIGatewayAuthorizerRequestEvent(event)
    request = gate.Request(
        authorization=ev.headers.get("Authorization", "") or "",
        method=ev.http_method,
        resource=ev.resource,
        path=ev.path,
        stage=ev.request_context.stage,
        challenge_id=ev.headers.get("X-OTP-Challenge", "") or "",
        code=ev.headers.get("X-OTP-Code", "") or "",
        passkey=ev.headers.get("X-OTP-Passkey", "") or "",
        meta=meta_of(ev),
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
        return deny(ev, decision.principal_id, decision.denied or {"error": "forbidden"})
    # Allow exactly this method ARN (caching is off, so the policy never serves another request).
    return {
        "principalId": decision.principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev.method_arn}],
        },
        "context": decision.context,
    }
