"""Key actions (OTP-approved by the authorizer) and reads of §API. Every decision is in the layer."""

from __future__ import annotations

from wabaguard import coldstart

# isort: split

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from wabaguard import keyactions, lazy, observability
from wabaguard.web import (
    approval_of,
    body_of,
    build_resolver,
    html_response,
    json_response,
    ops_identity,
    principal_of,
    raw_json,
    request_meta,
)

if TYPE_CHECKING:
    from wabaguard import ops, pages, partner_change, queries
    from wabaguard.notices import report
    from wabaguard.passkeys import api as passkeys
    from wabaguard.passkeys import page as approval
    from wabaguard.people import invites, onboarding
    from wabaguard.risk import flags
    from wabaguard.webhooks import manage
else:  # each capability is imported by the first request that needs it, not by the cold start
    ops, pages, partner_change, queries = (
        lazy.module(f"wabaguard.{m}") for m in ("ops", "pages", "partner_change", "queries")
    )
    report = lazy.module("wabaguard.notices.report")
    passkeys, approval = lazy.module("wabaguard.passkeys.api"), lazy.module("wabaguard.passkeys.page")
    invites, onboarding = lazy.module("wabaguard.people.invites"), lazy.module("wabaguard.people.onboarding")
    flags, manage = lazy.module("wabaguard.risk.flags"), lazy.module("wabaguard.webhooks.manage")

logger, metrics = observability.logger(), Metrics()
app = build_resolver()


def key_action(name: str, **params: str) -> Any:
    """Run an OTP-approved key action (the layer consumes the approval with the change)."""
    approval = approval_of(app, name)
    body = raw_json(app)  # invalid JSON is a 400 before anything is spent
    status, out, headers = keyactions.run_approved(principal_of(app), name, params, body, approval, request_meta(app))
    if not headers:
        metrics.add_dimension(name="action", value=name)
        metrics.add_metric(name="KeyActions", unit=MetricUnit.Count, value=1)
    return json_response(status, out, headers)


# ---------------------------------------------------------------- me
@app.get("/me")
def get_me() -> Any:
    return queries.me(principal_of(app))


@app.post("/me/totp")
def enroll_totp() -> Any:
    return key_action("enroll_totp")


@app.post("/me/tokens")
def rotate_token() -> Any:
    return key_action("rotate_token")


@app.put("/me/email")
def set_my_email() -> Any:
    return key_action("set_my_email")


@app.post("/me/passkeys/options")
def passkey_options() -> Any:
    body_of(app, "Empty", "body")  # takes no body: anything else is a 400
    return json_response(200, passkeys.registration_options(principal_of(app)))


@app.get("/me/passkeys")
def list_passkeys() -> Any:
    return passkeys.listing(principal_of(app))


@app.post("/me/passkeys")
def register_passkey() -> Any:
    return key_action("register_passkey")


@app.delete("/me/passkeys/<passkey_id>")
def remove_passkey(passkey_id: str) -> Any:
    return key_action("remove_passkey", passkey_id=passkey_id)


@app.get("/accounts/<account_id>/security-policy")
def get_security_policy(account_id: str) -> Any:
    return passkeys.security_policy(principal_of(app), account_id)


@app.put("/accounts/<account_id>/security-policy")
def set_security_policy(account_id: str) -> Any:
    return key_action("set_security_policy", account_id=account_id)


@app.get("/accounts/<account_id>/approvals/<change_id>")
def get_approval(account_id: str, change_id: str) -> Any:
    return passkeys.receipt(principal_of(app), account_id, change_id)


# ---------------------------------------------------------------- the approval page (passkey only)
@app.get("/approve/<token>")
def approval_page(token: str) -> Any:
    page = approval.show(token)
    return html_response(page.status, page.html(), pages.style_hash(), pages.source_hash(approval.SCRIPT))


@app.post("/approve/<token>")
def approval_answer(token: str) -> Any:
    body = body_of(app, "PasskeyApproval")
    status, out = approval.approve(token, body.credential, request_meta(app))
    return json_response(status, out)


@app.post("/me/totp/confirm")
def confirm_totp() -> Any:
    body = body_of(app, "TotpConfirm")
    return keyactions.confirm_totp(principal_of(app), body.code, request_meta(app))


# ---------------------------------------------------------------- phone numbers
@app.get("/phone-numbers/<phone_number_id>")
def get_phone_number(phone_number_id: str) -> Any:
    return queries.phone_number(principal_of(app), phone_number_id)


@app.patch("/phone-numbers/<phone_number_id>/profile")
def update_profile(phone_number_id: str) -> Any:
    return key_action("update_profile", phone_number_id=phone_number_id)


@app.put("/phone-numbers/<phone_number_id>/webhook")
def set_webhook_url(phone_number_id: str) -> Any:
    return key_action("set_webhook_url", phone_number_id=phone_number_id)


@app.post("/phone-numbers/<phone_number_id>/api-keys")
def create_api_key(phone_number_id: str) -> Any:
    return key_action("create_api_key", phone_number_id=phone_number_id)


@app.delete("/phone-numbers/<phone_number_id>/api-keys/<key_id>")
def revoke_api_key(phone_number_id: str, key_id: str) -> Any:
    keyactions.revoke_api_key(principal_of(app), phone_number_id, key_id, request_meta(app))
    return json_response(204, None)


# ---------------------------------------------------------------- accounts
@app.get("/accounts/<account_id>/templates")
def list_templates(account_id: str) -> Any:
    return queries.templates(principal_of(app), account_id)


@app.post("/accounts/<account_id>/templates")
def create_template(account_id: str) -> Any:
    return key_action("create_template", account_id=account_id)


@app.post("/accounts/<account_id>/partner-change-requests")
def request_partner_change(account_id: str) -> Any:
    return key_action("request_partner_change", account_id=account_id)


@app.get("/accounts/<account_id>/partner-change-requests")
def list_partner_changes(account_id: str) -> Any:
    return partner_change.list_requests(principal_of(app), account_id)


@app.post("/accounts/<account_id>/partner-change-requests/<request_id>/cancel")
def cancel_partner_change(account_id: str, request_id: str) -> Any:
    return partner_change.cancel(principal_of(app), account_id, request_id, request_meta(app))


@app.post("/accounts/<account_id>/partner-change-requests/<request_id>/approve")
def approve_partner_change(account_id: str, request_id: str) -> Any:
    return key_action("approve_partner_change", account_id=account_id, request_id=request_id)


@app.get("/accounts/<account_id>/users")
def list_users(account_id: str) -> Any:
    return queries.users(principal_of(app), account_id)


@app.post("/accounts/<account_id>/users")
def add_user(account_id: str) -> Any:
    return key_action("add_user", account_id=account_id)


@app.delete("/accounts/<account_id>/users/<user_id>")
def remove_user(account_id: str, user_id: str) -> Any:
    return key_action("remove_user", account_id=account_id, user_id=user_id)


@app.put("/accounts/<account_id>/users/<user_id>/email")
def set_user_email(account_id: str, user_id: str) -> Any:
    return key_action("set_user_email", account_id=account_id, user_id=user_id)


@app.get("/accounts/<account_id>/security-events")
def security_events(account_id: str) -> Any:
    q = app.current_event.query_string_parameters or {}
    return queries.security_events(principal_of(app), account_id, q.get("limit"), q.get("cursor"))


@app.get("/accounts/<account_id>/flags")
def list_flags(account_id: str) -> Any:
    return flags.list_flags(principal_of(app), account_id)


# ---------------------------------------------------------------- security webhook (§Security webhooks)
@app.get("/accounts/<account_id>/security-webhook")
def get_security_webhook(account_id: str) -> Any:
    return manage.endpoint(principal_of(app), account_id)


@app.put("/accounts/<account_id>/security-webhook")
def set_security_webhook(account_id: str) -> Any:
    return key_action("set_security_webhook", account_id=account_id)


@app.delete("/accounts/<account_id>/security-webhook")
def remove_security_webhook(account_id: str) -> Any:
    return key_action("remove_security_webhook", account_id=account_id)


@app.post("/accounts/<account_id>/security-webhook/rotate-secret")
def rotate_security_webhook_secret(account_id: str) -> Any:
    return key_action("rotate_security_webhook_secret", account_id=account_id)


@app.get("/accounts/<account_id>/security-webhook/deliveries")
def security_webhook_deliveries(account_id: str) -> Any:
    q = app.current_event.query_string_parameters or {}
    return manage.recent(principal_of(app), account_id, q.get("limit"))


@app.post("/accounts/<account_id>/security-webhook/deliveries/<delivery_id>/redeliver")
def redeliver(account_id: str, delivery_id: str) -> Any:
    return json_response(202, manage.redeliver(principal_of(app), account_id, delivery_id))


# ---------------------------------------------------------------- ops (IAM auth in AWS)
@app.post("/ops/flags/<flag_id>/resolve")
def resolve_flag(flag_id: str) -> Any:
    who = ops_identity(app)
    body = body_of(app, "FlagResolve")
    return flags.resolve(flag_id, body.verdict, body.note, who)


@app.post("/ops/accounts")
def onboard() -> Any:
    who = ops_identity(app)
    body = body_of(app, "Onboard")
    return json_response(201, onboarding.onboard(body, who))


@app.get("/ops/flags")
def ops_flags() -> Any:
    ops_identity(app)
    q = app.current_event.query_string_parameters or {}
    return ops.flags(q.get("status"), q.get("severity"), q.get("limit"), q.get("cursor"))


@app.get("/ops/reviews")
def ops_reviews() -> Any:
    ops_identity(app)
    return ops.reviews()


@app.get("/ops/accounts/<account_id>")
def ops_account(account_id: str) -> Any:
    ops_identity(app)
    return ops.account_overview(account_id)


@app.post("/ops/accounts/<account_id>/users/<user_id>/recover")
def recover_user(account_id: str, user_id: str) -> Any:
    who = ops_identity(app)
    body_of(app, "Empty")  # no body: anything else is a mistake, said so
    return invites.start_recovery(account_id, user_id, who)


@app.post("/ops/accounts/<account_id>/users/<user_id>/reset-authenticator")
def reset_authenticator(account_id: str, user_id: str) -> Any:
    return keyactions.reset_totp_by_ops(account_id, user_id, ops_identity(app))


# ---------------------------------------------------------------- the API's own description (public)
@app.get("/openapi.json")
def get_openapi() -> Any:
    return json_response(200, queries.openapi_document())


# ---------------------------------------------------------------- "this wasn't me" (the token is the credential)
@app.get("/report/<token>")
def report_page(token: str) -> Any:
    return html_response(*report.page(token), style_src=pages.style_hash())


@app.post("/report/<token>")
def report_confirm(token: str) -> Any:
    status, page, raised = report.confirm(token, request_meta(app))
    if raised:
        metrics.add_metric(name="HighFlagsRaised", unit=MetricUnit.Count, value=1)
    return html_response(status, page, style_src=pages.style_hash())


# ---------------------------------------------------------------- an invite (the token is the credential)
@app.get("/invite/<token>")
def invite_page(token: str) -> Any:
    return _link_page(invites.page(token))


@app.post("/invite/<token>")
def invite_accept(token: str) -> Any:
    return _link_page(invites.accept(token, request_meta(app)))


# ---------------------------------------------------------------- a notice's cancel link (the token is the credential)
def _link_page(page: pages.LinkPage) -> Any:
    return html_response(page.status, page.html(), style_src=pages.style_hash())


@app.get("/partner-change/cancel/<token>")
def partner_change_cancel_page(token: str) -> Any:
    return _link_page(partner_change.link_page(token))


@app.post("/partner-change/cancel/<token>")
def partner_change_cancel_by_link(token: str) -> Any:
    return _link_page(partner_change.cancel_by_link(token, request_meta(app)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


coldstart.imported("dynamodb")  # last: its client made, what the import built frozen, the collector on
