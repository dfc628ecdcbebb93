"""Meta's account webhooks (§Meta webhooks): the subscription handshake and signed change batches.
No bearer token: the app secret's signature is the credential. Decisions are in the layer."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import observability
from wabaguard.errors import WabaguardError
from wabaguard.whatsapp import inbound

logger, tracer, metrics = observability.logger(), Tracer(), Metrics()


def _secret() -> dict[str, Any]:
    value = parameters.get_secret(os.environ["META_APP_SECRET_ID"], transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


def _answer(status: int, body: Any, text: bool = False) -> dict[str, Any]:
    if text:
        return {"statusCode": status, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": str(body)}
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def _raw(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    secret = _secret()
    if event.get("httpMethod") == "GET":
        status, text = inbound.handshake(
            event.get("queryStringParameters") or {}, str(secret.get("verify_token") or "")
        )
        return _answer(status, text, text=True)
    raw = _raw(event)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not inbound.signature_ok(str(secret.get("app_secret") or ""), raw, headers.get("x-hub-signature-256")):
        metrics.add_metric(name="MetaSignatureRejected", unit=MetricUnit.Count, value=1)
        return _answer(401, {"error": "unauthorized", "detail": "X-Hub-Signature-256 is missing or does not match"})
    try:
        got = inbound.receive(raw)
    except WabaguardError as exc:
        return _answer(exc.status, exc.body())
    metrics.add_metric(name="MetaEventsRecorded", unit=MetricUnit.Count, value=got.recorded)
    metrics.add_metric(name="MetaEventsDuplicate", unit=MetricUnit.Count, value=got.duplicates)
    metrics.add_metric(name="MetaEventsUnknownWaba", unit=MetricUnit.Count, value=got.unknown_waba)
    logger.info("meta webhook", extra={"recorded": got.recorded, "duplicates": got.duplicates, "flags": got.flags})
    return _answer(200, {"recorded": got.recorded, "duplicates": got.duplicates, "unknown_waba": got.unknown_waba})
