"""Meta's account webhooks in (§Meta webhooks): the handshake, the signature, and each change
recorded exactly once — as a ``meta_event`` audit record, a notice or a flag, a template's status.

Meta redelivers a change for up to 36 hours until it gets a 200; a change is identified by the
digest of its WABA, entry time, field and value, and its marker is written in the same transaction
as its record, so a redelivery (or two deliveries at once) records and tells nothing twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError

from wabaguard import activity, clock
from wabaguard.aws import secret
from wabaguard.config import settings
from wabaguard.errors import InvalidRequest, Unauthorized
from wabaguard.models import (
    Account,
    Link,
    MessageTemplate,
    MetaEvent,
    MetaSeen,
    PartnerChangeRequest,
    PhoneNumber,
    account_pk,
    condition_failed,
    display_phone_pk,
    iso,
    meta_event_sk,
    meta_seen_pk,
    system_change,
    transaction,
)
from wabaguard.people.access import account_by_waba, account_or_none
from wabaguard.risk import flags
from wabaguard.security import BadJson, new_id, parse_json_body
from wabaguard.watch import schedule as watch_schedule
from wabaguard.whatsapp.signals import PARTNER_LEFT, WATCH_NOW, Signal, read

OBJECT = "whatsapp_business_account"
MAX_CHANGES = 1000  # Meta batches at most this many changes in one POST
SEEN_FOR = timedelta(hours=48)  # longer than Meta's 36 hours of redelivery
PARTNER_MATCH = timedelta(days=30)
BY = "WhatsApp (Meta)"


# ------------------------------------------------------------------ handshake and signature
def handshake(params: dict[str, str], verify_token: str) -> tuple[int, str]:
    """Meta's ``GET`` subscription check: the challenge back as plain text, or 403."""
    mode, token, challenge = params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge")
    if mode != "subscribe" or token is None or challenge is None:
        return 400, "hub.mode=subscribe, hub.verify_token and hub.challenge are required"
    if not verify_token or not hmac.compare_digest(token.encode(), verify_token.encode()):
        return 403, "verify token mismatch"
    return 200, challenge[:256]


def signature_ok(app_secret: str, raw: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``, compared in constant
    time. No secret configured means no valid signature (fail closed)."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower().encode(), expected.encode())


class BadSignature(Unauthorized):
    """The POST is not signed with the app secret: 401, nothing recorded."""


def app_secrets() -> dict[str, Any]:
    """The app secret and the verify token, as the provider stored them (Secrets Manager, cached
    5 minutes). Missing or malformed means no valid signature and no handshake: fail closed."""
    secret_id = settings().meta_app_secret_id
    if not secret_id:
        return {}
    value = secret(secret_id, transform="json")
    return value if isinstance(value, dict) else {}


def handshake_answer(params: dict[str, str]) -> tuple[int, str]:
    """Meta's subscription check against the stored verify token."""
    return handshake(params, str(app_secrets().get("verify_token") or ""))


def deliver(raw: bytes, signature: str | None, now: datetime | None = None) -> Received:
    """A POST from Meta: the signature over the raw bytes first, then every change recorded once."""
    if not signature_ok(str(app_secrets().get("app_secret") or ""), raw, signature):
        raise BadSignature("X-Hub-Signature-256 is missing or does not match")
    return receive(raw, now)


# ------------------------------------------------------------------ the envelope
@dataclass
class Received:
    """What one POST came to (the handler turns it into metrics and logs)."""

    recorded: int = 0
    duplicates: int = 0
    unknown_waba: int = 0
    stale: int = 0  # older than a duplicate marker lives: answered, never recorded
    flags: list[str] = field(default_factory=list)
    notices: int = 0
    watch_asked: int = 0  # WABAs to be read at once by the WABA watch


def parse(raw: bytes) -> list[tuple[str, Any, list[dict[str, Any]]]]:
    """The envelope's entries as (waba_id, time, changes); 400 naming what is malformed."""
    try:
        body = parse_json_body(raw)
    except BadJson as exc:
        raise InvalidRequest("body", str(exc)) from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    if body.get("object") != OBJECT:
        raise InvalidRequest("object", f"must be {OBJECT!r}")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise InvalidRequest("entry", "must be a list")
    out: list[tuple[str, Any, list[dict[str, Any]]]] = []
    total = 0
    for i, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("id"), (str, int))
            or isinstance(entry.get("id"), bool)
        ):
            raise InvalidRequest(f"entry[{i}].id", "is required (the WhatsApp Business Account id)")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise InvalidRequest(f"entry[{i}].changes", "must be a list")
        for j, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("field"), str) or not change["field"]:
                raise InvalidRequest(f"entry[{i}].changes[{j}].field", "is required")
            if not isinstance(change.get("value"), dict):
                raise InvalidRequest(f"entry[{i}].changes[{j}].value", "is required: the object Meta sends")
        time_value = entry.get("time")
        if not isinstance(time_value, int | float) or isinstance(time_value, bool) or time_value <= 0:
            raise InvalidRequest(f"entry[{i}].time", "is required: when Meta sent the change, in epoch seconds")
        total += len(changes)
        if total > MAX_CHANGES:
            raise InvalidRequest("entry", f"carries more than Meta's {MAX_CHANGES} changes")
        out.append((str(entry["id"])[:64], time_value, changes))
    return out


def _event_time(value: Any, now: datetime) -> datetime | None:
    """Meta's ``time`` (epoch seconds, or milliseconds); a time ahead of ours (clock skew) is taken
    as now. None for a change older than its duplicate marker lives: a legitimate redelivery comes
    within Meta's 36 hours, so an older body is a captured one sent again, whose marker is gone —
    recording it would repeat an old alarm as if it were new. (Meta signs ``time``, so a replayer
    cannot freshen it.)"""
    at = datetime.fromtimestamp(value, tz=UTC) if value < 10**11 else datetime.fromtimestamp(value / 1000, tz=UTC)
    if at < now - SEEN_FOR:
        return None
    return at if at <= now + timedelta(minutes=10) else now


def receive(raw: bytes, now: datetime | None = None) -> Received:
    """Record every change of a signed POST (the signature was checked by the caller)."""
    now = now or clock.utcnow()
    entries = parse(raw)
    out = Received()
    for waba_id, time_value, changes in entries:
        account = account_by_waba(waba_id)
        if account is None:
            out.unknown_waba += len(changes)
            continue
        at = _event_time(time_value, now)
        if at is None:
            out.stale += len(changes)
            continue
        for change in changes:
            _one(account, waba_id, time_value, at, change["field"], change.get("value"), now, out)
    return out


# ------------------------------------------------------------------ one change
def _digest(waba_id: str, time_value: Any, field_name: str, value: Any) -> str:
    canonical = json.dumps([waba_id, time_value, field_name, value], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _phone_of(account: Account, display: str | None) -> PhoneNumber | None:
    """The account's own phone number that Meta's payload names (by its E.164 digits), if any."""
    if not display:
        return None
    try:
        link = Link.get(display_phone_pk(display), "META")
        phone = PhoneNumber.get(*PhoneNumber.key(str(link.target_id)))
    except (Link.DoesNotExist, PhoneNumber.DoesNotExist):
        return None
    return phone if phone.account_id == account.account_id else None


def _meta_ids(partner_id: str | None) -> set[str]:
    """The ids at Meta of a Partner wabaguard knows (none for one it does not)."""
    partner = account_or_none(partner_id)
    return {i for i in (partner.meta_business_id, partner.meta_app_id) if i} if partner else set()


def _explaining_partner_change(
    account: Account, signal: Signal, digest: str, now: datetime
) -> PartnerChangeRequest | None:
    """The Partner change submitted in wabaguard in the last 30 days that explains this event, and
    only if the event names that request's Partner by its ids at Meta — the target for a Partner
    added, the Partner it left for one removed. One request explains one event of each kind: the
    claim is a conditional write (the same event, redelivered, claims it again)."""
    added = signal.event not in PARTNER_LEFT
    slot = PartnerChangeRequest.explained_added if added else PartnerChangeRequest.explained_removed
    refs = set(signal.partner_refs)
    if not refs:
        return None  # Meta named no Partner: nothing to match it with, so it is not explained
    since = iso(now - PARTNER_MATCH)
    for request in PartnerChangeRequest.query(
        account_pk(account.account_id), PartnerChangeRequest.sk.startswith("PCR#")
    ):
        if request.status != "SUBMITTED" or (request.ended_at or "") < since:
            continue
        if not refs & _meta_ids(request.target_partner_id if added else request.current_partner_id):
            continue
        try:
            request.update(actions=[slot.set(digest)], condition=slot.does_not_exist() | (slot == digest))
        except UpdateError as exc:
            if condition_failed(exc):
                continue  # this request explained another event already
            raise
        return request
    return None


def _template(account_id: str, meta_id: str | None) -> MessageTemplate | None:
    if not meta_id:
        return None
    for tpl in MessageTemplate.query(account_pk(account_id), MessageTemplate.sk.startswith("TEMPLATE#")):
        if tpl.meta_template_id == meta_id:
            return tpl
    return None


def _one(
    account: Account,
    waba_id: str,
    time_value: Any,
    at: datetime,
    field_name: str,
    value: Any,
    now: datetime,
    out: Received,
) -> None:
    digest = _digest(waba_id, time_value, field_name, value)
    seen_key = meta_seen_pk(digest)
    try:
        MetaSeen.get(seen_key)
        out.duplicates += 1
        return
    except MetaSeen.DoesNotExist:
        pass
    signal = read(field_name, value)
    phone = _phone_of(account, signal.phone)
    phone_id = phone.phone_number_id if phone is not None else None
    facts = [("What Meta reported", f"{field_name}: {signal.event or '(no event)'}"), *signal.facts]
    if signal.phone:  # the account's number as its people know it; Meta's digits only if it is not one
        named = phone.display if phone is not None else f"+{signal.phone} (not a number of {account.name})"
        facts.insert(1, ("Phone number", named))
    facts.append(("When", clock.for_people(at)))
    explained = None
    if signal.partner_event:
        match = _explaining_partner_change(account, signal, digest, now)
        if match is not None:
            explained = f"matches the Partner change {match.request_id} approved in wabaguard"
            facts.append(("wabaguard", explained))
    flag_id = None
    if signal.rule and signal.severity and explained is None:
        flag_id = _raise(account, signal, facts, at, now)
        if flag_id:
            out.flags.append(flag_id)
    template = _template(account.account_id, signal.template_id) if signal.template_id else None
    event_id = new_id("mev")
    record = activity.build(
        account.account_id,
        "meta_event",
        at,
        action=signal.event or field_name,
        phone_number_id=phone_id,
        detail=f"{field_name}: {signal.headline}"[:500],
    )
    try:
        with transaction() as tx:
            tx.save(
                MetaSeen(seen_key, account_id=account.account_id, ttl=now + SEEN_FOR),
                condition=MetaSeen.pk.does_not_exist(),
            )
            tx.save(record)
            if signal.notify and flag_id is None:  # a raised flag is the notice itself
                item = MetaEvent(
                    account_pk(account.account_id),
                    meta_event_sk(iso(now), event_id),
                    event_id=event_id,
                    account_id=account.account_id,
                    field=field_name,
                    event=signal.event or None,
                    phone=signal.phone,
                    headline=signal.headline,
                    advice=signal.advice or None,
                    facts=[list(f) for f in facts],
                    event_time=iso(at),
                    received_at=iso(now),
                    last_change=system_change("meta_signal", now, BY, event_id),
                )
                tx.save(item, condition=MetaEvent.pk.does_not_exist())
                out.notices += 1
            if template is not None and signal.template_status:
                tx.update(
                    template,
                    actions=[
                        MessageTemplate.status.set(signal.template_status[:32]),
                        MessageTemplate.status_reason.set(signal.reason or "NONE"),
                        MessageTemplate.status_at.set(iso(at)),
                    ],
                    condition=MessageTemplate.pk.exists(),
                )
    except TransactWriteError as exc:
        if condition_failed(exc):  # another delivery of the same change won the race
            out.duplicates += 1
            return
        raise
    out.recorded += 1
    if field_name == "account_update" and signal.event in WATCH_NOW and account.waba_id:
        watch_schedule.read_soon(account.account_id, account.waba_id, now)  # who controls it may have changed
        out.watch_asked += 1


def _raise(account: Account, signal: Signal, facts: list[tuple[str, str]], at: datetime, now: datetime) -> str | None:
    explanation = f"Meta reported that {signal.headline} ({clock.for_people(at)}). {signal.advice}"
    evidence = [{"kind": "meta_event", "at": iso(at), "action": signal.event, "detail": f"{k}: {v}"} for k, v in facts]
    flag = flags.raise_flag(
        account,
        signal.rule or "meta_signal",
        signal.severity or "medium",
        explanation,
        evidence,
        subject={},
        now=now,
        raised_by=BY,
    )
    return flag.flag_id if flag is not None else None
