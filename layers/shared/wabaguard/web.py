"""Handler glue shared by the HTTP functions: one place maps domain errors to JSON responses and
reads the caller and request metadata out of API Gateway's event. No domain decisions here."""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from wabaguard import lazy
from wabaguard.activity import RequestMeta, meta_of
from wabaguard.errors import (
    Forbidden,
    InvalidRequest,
    OtpDenied,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    WabaguardError,
)
from wabaguard.models import transient
from wabaguard.people.principal import Principal
from wabaguard.security import BadJson, parse_json_body

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

    from wabaguard.otp.checks import Approval
else:  # the REST resolver without the other resolvers Powertools' event_handler/__init__ loads
    _rest = lazy.submodule("aws_lambda_powertools.event_handler", "api_gateway")
    APIGatewayRestResolver, Response = _rest.APIGatewayRestResolver, _rest.Response
    content_types = lazy.submodule("aws_lambda_powertools.event_handler", "content_types")

MAX_BODY = 64 * 1024
logger = Logger(child=True)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body) if body is not None else "",
        headers=headers or {},
    )


def error_response(exc: WabaguardError) -> Response:
    return json_response(exc.status, exc.body(), exc.headers)


def build_resolver() -> APIGatewayRestResolver:
    """A resolver with our error mapping and JSON 404/405/500 bodies. Powertools' OpenAPI
    validation stays off: every route takes string path parameters and parses its own body
    (``schemas``), and the middleware would load pydantic and the OpenAPI models (~230 ms) into
    every cold start for nothing."""
    app = APIGatewayRestResolver()

    @app.exception_handler(WabaguardError)
    def _domain(exc: WabaguardError) -> Response:
        return error_response(exc)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return json_response(404, {"error": "not_found", "detail": "no such route"})

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if transient(exc):
            logger.warning("dynamodb busy", extra={"error_type": type(exc).__name__})
            return error_response(Unavailable("the service is busy; try again in a few seconds"))
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return json_response(500, {"error": "internal_error", "detail": "unexpected error; nothing secret was logged"})

    return app


def principal_of(app: APIGatewayRestResolver) -> Principal:
    """The caller, as the authorizer described it. No context means no access (fail closed)."""
    ctx = app.current_event.request_context.authorizer.raw_event or {}
    try:
        return Principal.from_context(dict(ctx))
    except ValueError:
        raise Unauthorized("no authenticated principal") from None


def request_meta(app: APIGatewayRestResolver) -> RequestMeta:
    return meta_of(app.current_event)


def raw_json(app: APIGatewayRestResolver) -> Any:
    """The request body as JSON (``{}`` when absent); 400 on malformed JSON, 413 when too large."""
    event = app.current_event
    raw: str | bytes | None = event.body
    if raw is not None and event.is_base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=False)  # bytes: decoded (and checked) below
        except ValueError:
            raise InvalidRequest("body", "is not valid base64") from None
    if raw is not None and len(raw.encode("utf-8") if isinstance(raw, str) else raw) > MAX_BODY:
        raise PayloadTooLarge(f"the body exceeds {MAX_BODY} bytes")
    try:
        return parse_json_body(raw)
    except UnicodeDecodeError:
        raise InvalidRequest("body", "is not UTF-8 text") from None
    except BadJson as exc:
        raise InvalidRequest("body", str(exc)) from None
    except ValueError:
        raise InvalidRequest("body", "is not valid JSON") from None


def body_of(app: APIGatewayRestResolver, model: str, prefix: str = "") -> Any:
    """The request's JSON body as ``schemas.<model>`` reads it: a 400 naming the field otherwise
    (invalid JSON included)."""
    # Imported on first use by the routes that validate a body: pydantic stays off the routes
    # that only read, and off the cold start.
    from wabaguard import schemas

    return schemas.parse(getattr(schemas, model), raw_json(app), prefix)


def approval_of(app: APIGatewayRestResolver, action: str) -> Approval:
    """The OTP approval the authorizer checked for this action; none → 403 (fail closed)."""
    # Imported by a key action's request, on first use (cold start: reads never load them).
    from wabaguard.otp.checks import Approval
    from wabaguard.passkeys import assertions  # (cold start, as above)

    ctx = app.current_event.request_context.authorizer.raw_event or {}
    approval = Approval.from_context(dict(ctx))
    if approval is None or approval.action != action:
        raise OtpDenied("otp_required", f"{action} needs a one-time password")
    if approval.inline_assertion is not None:
        # The authorizer checked the X-OTP-Passkey header; the receipt keeps that very assertion.
        header = app.current_event.headers.get("X-OTP-Passkey") or ""
        try:
            text = assertions.decode_header(header)
        except assertions.Refused:
            text = ""
        if not text or not hmac.compare_digest(assertions.assertion_digest(header), approval.used_code_digest):
            raise OtpDenied("otp_mismatch", "X-OTP-Passkey is not the assertion that was checked")
        approval = replace(approval, inline_assertion=text)
    return approval


def ops_identity(app: APIGatewayRestResolver) -> str:
    """The IAM principal API Gateway authenticated (AWS_IAM routes); none → 403, fail closed."""
    arn = app.current_event.request_context.identity.user_arn
    if not arn:
        raise Forbidden("ops routes need IAM credentials")
    return str(arn)


def html_response(status: int, page: str, style_src: str | None = None, script_src: str | None = None) -> Response:
    """An HTML page that loads nothing from anywhere; ``style_src`` allows its inline stylesheet
    and ``script_src`` its inline script by hash (never 'unsafe-inline'); a script may only talk
    to this origin."""
    csp = "default-src 'none'; form-action 'self'; base-uri 'none'" + (f"; style-src {style_src}" if style_src else "")
    if script_src:
        csp += f"; script-src {script_src}; connect-src 'self'"
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=page,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": csp,
        },
    )
