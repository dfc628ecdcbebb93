"""Meta's account webhooks (§Meta webhooks): the subscription handshake and signed change batches.
No bearer token: the app secret's signature is the credential. Decisions are in the layer."""

from __future__ import annotations

import base64
import os
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.web import build_resolver, json_response
from wabaguard.whatsapp import inbound

logger, tracer, metrics = observability.logger(), Tracer(), Metrics()
app = build_resolver()


def _secret() -> dict[str, Any]:
    value = parameters.get_secret(os.environ["META_APP_SECRET_ID"], transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


@app.get("/meta/webhook")
def handshake() -> Any:
    params = app.current_event.query_string_parameters or {}
    status, text = inbound.handshake(params, str(_secret().get("verify_token") or ""))
    if status != 200:  # errors in the API's JSON shape; only the challenge is plain text (Meta reads it)
        error = "forbidden" if status == 403 else "invalid_request"
        return json_response(status, {"error": error, "detail": text})
    # Meta reads the challenge as plain text; nosniff keeps a browser from reading it as anything else
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    return Response(status, "text/plain; charset=utf-8", text, headers=headers)


@app.post("/meta/webhook")
def changes() -> Any:
    event = app.current_event
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")
    signature = event.headers.get("X-Hub-Signature-256") or event.headers.get("x-hub-signature-256")
    if not inbound.signature_ok(str(_secret().get("app_secret") or ""), raw, signature):
        metrics.add_metric(name="MetaSignatureRejected", unit=MetricUnit.Count, value=1)
        return json_response(
            401, {"error": "unauthorized", "detail": "X-Hub-Signature-256 is missing or does not match"}
        )
    got = inbound.receive(raw)  # a malformed body is a 400 naming the field (the resolver's error mapping)
    metrics.add_metric(name="MetaEventsRecorded", unit=MetricUnit.Count, value=got.recorded)
    metrics.add_metric(name="MetaEventsDuplicate", unit=MetricUnit.Count, value=got.duplicates)
    metrics.add_metric(name="MetaEventsUnknownWaba", unit=MetricUnit.Count, value=got.unknown_waba)
    metrics.add_metric(name="MetaEventsStale", unit=MetricUnit.Count, value=got.stale)
    logger.info("meta webhook", extra={"recorded": got.recorded, "duplicates": got.duplicates, "flags": got.flags})
    answer = {"recorded": got.recorded, "duplicates": got.duplicates, "unknown_waba": got.unknown_waba}
    return json_response(200, {**answer, "stale": got.stale})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
