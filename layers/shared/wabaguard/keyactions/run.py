"""Running a key action (§API, §OTP): the same preparation for the challenge and for the request,
then one transaction with the challenge's consumption and the audit record.

``prepare`` reads the action's registry entry: who may make it (its roles towards the account
acted on), what it acts on, its body, whether a review pauses it and whether Meta must apply it —
then asks its family for the request in words. So a code is only ever sent for a request that
would succeed, and the request is judged again, the same way, when it is made.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError

from wabaguard import activity, clock
from wabaguard.activity import RequestMeta
from wabaguard.config import API_STAGE
from wabaguard.errors import Conflict, InvalidRequest, UnderReview
from wabaguard.keyactions import registry
from wabaguard.keyactions.registry import SECRET, KeyAction
from wabaguard.keyactions.work import Performer, Prepared, Work
from wabaguard.models import Account, PhoneNumber, condition_failed, transaction
from wabaguard.otp import approvals
from wabaguard.otp import challenges as otp_challenges
from wabaguard.otp import checks as otp
from wabaguard.otp.checks import Approval
from wabaguard.passkeys import receipts
from wabaguard.people.access import (
    load_account,
    require_account,
    require_phone,
    require_role,
    require_user_principal,
)
from wabaguard.people.principal import Principal

if TYPE_CHECKING:
    from wabaguard.strict import Strict


def challenge(
    principal: Principal,
    method: str,
    path: str,
    body: Any,
    channel: str | None,
    meta: RequestMeta,
    now: float | None = None,
) -> dict[str, Any]:
    """``POST /v1/otp/challenges``: counted first (refused requests count), then the request is
    matched and prepared as if it were made — a code is only sent for one that would succeed."""
    t = clock.now() if now is None else now
    otp_challenges.count_request(principal, t)
    if "?" in path or "#" in path:
        raise InvalidRequest("path", "must be a path without query string or fragment")
    if not path.startswith(f"/{API_STAGE}/"):
        raise InvalidRequest("path", f"must start with /{API_STAGE}/")
    matched = registry.match(method, path)
    if matched is None:
        names = ", ".join(f"{a.method} {a.pattern}" for a in registry.KEY_ACTIONS)
        raise InvalidRequest("path", f"{method} {path} is not a key action (key actions: {names})")
    action, params = matched
    prepared = prepare(principal, action.name, params, body)
    asked = otp_challenges.Asked(
        action.name, action.method, path, body, prepared.description, prepared.facts, prepared.account
    )
    return otp_challenges.issue(principal, asked, channel, meta, t)


def family(action: KeyAction) -> Any:
    """The module that says the action in words and performs it."""
    return import_module(f"wabaguard.keyactions.{action.family}")


def performer(action: KeyAction) -> Performer:
    return getattr(family(action), f"do_{action.name}")  # type: ignore[no-any-return]


def body_model(action: KeyAction) -> type[Strict]:
    # Imported on a key action's first use: pydantic stays off a function whose request may
    # only read, and off its cold start.
    from wabaguard import schemas

    return getattr(schemas, action.body)  # type: ignore[no-any-return]


def parse_body(action: KeyAction, body: Any) -> Any:
    """The action's body as its model reads it; a 400 naming the field otherwise."""
    # Imported on a key action's first use (cold start: pydantic only where a body is validated).
    from wabaguard import schemas

    return schemas.parse(body_model(action), body, "body")


def prepare(principal: Principal, action_name: str, params: dict[str, str], body: Any) -> Prepared:
    """Authorise and validate a key action; 404/403/400/423 before anything is sent or written."""
    action = registry.BY_NAME[action_name]
    require_user_principal(principal)
    model = parse_body(action, body)
    phone: PhoneNumber | None = None
    if action.target == "phone":
        phone, account = require_phone(principal, params["phone_number_id"])
    elif action.target == "self":
        account = load_account(principal.account_id)
    else:
        account = require_account(principal, params["account_id"])
    require_role(principal, account, action.roles, action.name)
    if action.review_pauses and account.under_review:
        raise UnderReview.paused(account.account_id, action.name)
    if action.meta:
        _require_meta_ids(account, phone)
    prepared = Prepared(action, params, model, account, principal, phone=phone)
    prepared.description = getattr(family(action), f"words_{action.name}")(prepared)
    return prepared


def _require_meta_ids(account: Account, phone: PhoneNumber | None) -> None:
    """A change that must reach WhatsApp needs Meta's ids; without them no code is sent."""
    if phone is not None and not phone.meta_phone_number_id:
        raise Conflict(
            f"phone number {phone.phone_number_id} has no Meta Phone-Number-ID, so the change cannot reach "
            "WhatsApp; ask your provider to add it"
        )
    if phone is None and not account.waba_id:
        raise Conflict(
            f"{account.name} has no WhatsApp Business Account id, so the change cannot reach WhatsApp; "
            "ask your provider to add it"
        )


def _audit(principal: Principal, account_id: str, action: str, meta: RequestMeta, now: datetime, **fields: Any) -> Any:
    who = {"user_id": principal.user_id, "key_id": principal.key_id}
    return activity.build(
        account_id,
        "key_action",
        now,
        action=action,
        ip=meta.ip,
        user_agent=meta.user_agent,
        country=meta.country,
        request_id=meta.request_id,
        **{**who, **fields},
    )


def run_approved(
    principal: Principal,
    name: str,
    params: dict[str, str],
    body: Any,
    approval: Approval,
    meta: RequestMeta,
    now: datetime | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """An OTP-approved request: the approved body acts once; another body spends nothing; the same
    user's retry of a success gets the same answer. Returns (status, body, extra headers)."""
    now = now or clock.utcnow()
    if not approvals.same_body(approval, body):
        raise approvals.other_body(approval, principal, meta, now.timestamp())
    if approval.replay:
        status, out = approvals.stored_answer(approval, principal)
        return status, out, dict(approvals.REPLAYED)
    prepared = prepare(principal, name, params, body)
    return perform(principal, prepared, meta, approval, now)


def perform(
    principal: Principal, prepared: Prepared, meta: RequestMeta, approval: Approval, now: datetime | None = None
) -> tuple[int, Any, dict[str, str]]:
    """Carry out an approved key action in one transaction with the challenge's consumption and
    the audit record; returns (status, response body, extra headers)."""
    now = now or clock.utcnow()
    action = prepared.action
    work = Work(transaction(), challenge_id=approval.challenge_id, approved_with=approval.factor)
    headers: dict[str, str] = {}
    try:
        with work.tx:
            status, body, extra = performer(action)(principal, prepared, meta, now, work)
            work.tx.save(_audit(principal, prepared.account.account_id, action.name, meta, now, **extra))
            secret = action.replay == SECRET
            approvals.consume_into(work.tx, approval, principal, now.timestamp(), status, body, secret=secret)
            if approval.passkey_id:
                # removing the very passkey that approved it: the removal writes (and checks) that item
                counter = not (
                    action.name == "remove_passkey" and prepared.params.get("passkey_id") == approval.passkey_id
                )
                headers[RECEIPT_HEADER] = receipts.record_into(
                    work.tx, approval, principal, prepared.account.account_id, work.change_id, now.timestamp(), counter
                )
    except TransactWriteError as exc:
        if not condition_failed(exc):
            raise
        outcome = approvals.settle(approval, principal, meta, now.timestamp())
        if isinstance(outcome, Exception):
            raise outcome from None
        if outcome is not None:
            return outcome[0], outcome[1], dict(approvals.REPLAYED)
        if work.conflict is not None:
            raise work.conflict() from None
        raise Conflict("the resource changed while the action ran; nothing was changed, try again") from None
    if approval.recovery_digest:
        otp.recovery_code_used(principal, meta, now)
    return status, body, headers


RECEIPT_HEADER = "Approval-Receipt"  # where a passkey approval's receipt is served
