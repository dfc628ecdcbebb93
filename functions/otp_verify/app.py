"""REQUEST authorizer on every route: bearer credential, then the OTP of key actions.

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
from wabaguard import observability, otp
from wabaguard.activity import meta_of
from wabaguard.config import API_STAGE
from wabaguard.errors import OtpDenied
from wabaguard.keyactions import registry
from wabaguard.people.principal import Principal
from wabaguard.security import token_digest

logger = observability.logger()
metrics = Metrics()


def _bearer(event: APIGatewayAuthorizerRequestEvent) -> str | None:
    value = event.headers.get("Authorization", "") or ""
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def _policy(
    event: APIGatewayAuthorizerRequestEvent, principal_id: str, context: dict[str, Any]
) -> APIGatewayAuthorizerResponse:
    arn = event.parsed_arn
    return APIGatewayAuthorizerResponse(
        principal_id=principal_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=context,
        partition=arn.partition,
    )


def deny(event: APIGatewayAuthorizerRequestEvent, principal_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A Deny for this request whose context is the JSON body the gateway response shows."""
    reason = str(body.get("error"))
    with single_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="reason", value=reason)  # a handful of §OTP reasons: low cardinality
    logger.info("denied", extra={"reason": body.get("error"), "principal": principal_id})
    policy = _policy(event, principal_id, {"body": json.dumps(body), "error": str(body.get("error"))})
    policy.deny_all_routes()
    return policy.asdict()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ev = APIGatewayAuthorizerRequestEvent(event)
    token = _bearer(ev)
    stage = ev.request_context.stage or API_STAGE
    path = registry.stage_path(stage, ev.path)
    # The gateway's own routing decides what is a key action (its resource), with the concrete
    # path as a second opinion: either one says key action → an OTP is required.
    action = registry.by_resource(ev.http_method, ev.resource)
    matched = (action, {}) if action is not None else registry.match(ev.http_method, path)
    challenge_id = ev.headers.get("X-OTP-Challenge", "") or ""
    code = ev.headers.get("X-OTP-Code", "") or ""
    if token is None:
        raise Exception("Unauthorized")
    wants_otp = matched is not None and bool(challenge_id) and len(challenge_id) <= 80
    cred, challenge = otp.fetch(token_digest(token), challenge_id if wants_otp else None)
    if not otp.accepted(cred, matched[0].name if matched else None, challenge_id):
        raise Exception("Unauthorized")
    assert cred is not None
    principal = Principal.from_credential(cred)
    ctx: dict[str, Any] = principal.context()

    if matched is not None:
        action, _ = matched
        if not principal.is_user:
            return deny(
                ev,
                principal.principal_id,
                {"error": "forbidden", "detail": "key actions must be made by a user, not an API key"},
            )
        if not challenge_id or not code:
            return deny(
                ev,
                principal.principal_id,
                {
                    "error": "otp_required",
                    "detail": f"{action.name} needs a one-time password: POST /v1/otp/challenges first, "
                    "then repeat with X-OTP-Challenge and X-OTP-Code",
                },
            )
        try:
            approval = otp.verify(cred, challenge, code, ev.http_method.upper(), path, meta_of(ev))
        except OtpDenied as denied:
            if denied.code == "otp_locked":
                metrics.add_metric(name="OtpLocked", unit=MetricUnit.Count, value=1)
            else:
                metrics.add_metric(name="OtpFailed", unit=MetricUnit.Count, value=1)
            return deny(ev, principal.principal_id, denied.body())
        if cred.status != "active" and not approval.replay:  # a replaced token only ever retries
            raise Exception("Unauthorized")
        metrics.add_metric(name="OtpVerified", unit=MetricUnit.Count, value=1)
        ctx.update(approval.context())

    # Allow exactly this method ARN (caching is off, so the policy never serves another request).
    return {
        "principalId": principal.principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev.method_arn}],
        },
        "context": ctx,
    }
