"""Meta's account webhooks (§Meta webhooks): the subscription handshake and signed change batches.
No bearer token: the app secret's signature is the credential. The decisions — the verify token,
the signature, what each change means — are ``whatsapp.inbound``'s; this handler translates."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

import base64
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.web import Response, build_resolver, json_response
from wabaguard.whatsapp import inbound

logger, metrics = observability.logger(), Metrics()
app = build_resolver()


@app.get("/meta/webhook")
def verify_meta_webhook() -> Any:
    status, text = inbound.handshake_answer(app.current_event.query_string_parameters or {})
    if status != 200:  # errors in the API's JSON shape; only the challenge is plain text (Meta reads it)
        error = "forbidden" if status == 403 else "invalid_request"
        return json_response(status, {"error": error, "detail": text})
    # Meta reads the challenge as plain text; nosniff keeps a browser from reading it as anything else
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    return Response(status, "text/plain; charset=utf-8", text, headers=headers)


@app.post("/meta/webhook")
def receive_meta_webhook() -> Any:
    event = app.current_event
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")
    signature = event.headers.get("X-Hub-Signature-256") or event.headers.get("x-hub-signature-256")
    try:
        got = inbound.deliver(raw, signature)  # a malformed body is a 400 naming the field
    except inbound.BadSignature:
        metrics.add_metric(name="MetaSignatureRejected", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="MetaEventsRecorded", unit=MetricUnit.Count, value=got.recorded)
    metrics.add_metric(name="MetaEventsDuplicate", unit=MetricUnit.Count, value=got.duplicates)
    metrics.add_metric(name="MetaEventsUnknownWaba", unit=MetricUnit.Count, value=got.unknown_waba)
    metrics.add_metric(name="MetaEventsStale", unit=MetricUnit.Count, value=got.stale)
    logger.info("meta webhook", extra={"recorded": got.recorded, "duplicates": got.duplicates, "flags": got.flags})
    answer = {"recorded": got.recorded, "duplicates": got.duplicates, "unknown_waba": got.unknown_waba}
    return json_response(200, {**answer, "stale": got.stale})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
