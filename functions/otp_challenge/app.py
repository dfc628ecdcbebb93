"""POST /v1/otp/challenges and its resend: issue a code for one exact request."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import keyactions, observability, otp
from wabaguard.web import body_of, build_resolver, json_response, principal_of, request_meta

logger, metrics = observability.logger(), Metrics()
app = build_resolver()


@app.post("/otp/challenges")
def create_challenge() -> Any:
    request = body_of(app, "ChallengeRequest")
    principal, meta = principal_of(app), request_meta(app)
    out = keyactions.challenge(principal, request.method, request.path, request.body, request.channel, meta)
    metrics.add_dimension(name="channel", value=out["channel"])
    metrics.add_metric(name="ChallengesIssued", unit=MetricUnit.Count, value=1)
    return json_response(201, out)


@app.get("/otp/challenges/<challenge_id>")
def get_challenge(challenge_id: str) -> Any:
    return json_response(200, otp.status(principal_of(app), challenge_id))


@app.post("/otp/challenges/<challenge_id>/resend")
def resend_challenge(challenge_id: str) -> Any:
    out = otp.resend(principal_of(app), challenge_id)
    metrics.add_metric(name="ChallengesResent", unit=MetricUnit.Count, value=1)
    return json_response(200, out)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
