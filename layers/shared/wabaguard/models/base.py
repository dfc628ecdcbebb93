"""The items' common ground: the tables' base models, keys, change records, transactions and
the conditions DynamoDB settles races with."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import (
    DiscriminatorAttribute,
    MapAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from wabaguard import aws
from wabaguard.config import _str, region
from wabaguard.security import new_id


def _region() -> str | None:
    return region()


def condition_failed(exc: Exception) -> bool:
    """A PynamoDB error caused by a condition, not by DynamoDB failing. A transaction cancelled
    only because another transaction was touching the same item (``TransactionConflict``) is not a
    condition failure: nothing was decided, so the caller must retry or fail, never take it as
    "the item was in another state"."""
    code = getattr(exc, "cause_response_code", None)
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = getattr(exc, "cancellation_reasons", None)
    if not reasons:
        return True  # no reasons reported: the conservative reading (callers fail closed on it)
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)


def transaction_conflict(exc: Exception) -> bool:
    """A transaction cancelled because another one held an item: safe to run again."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    codes = {r.code for r in reasons if r is not None and r.code != "None"}
    return getattr(exc, "cause_response_code", None) == "TransactionCanceledException" and codes == {
        "TransactionConflict"
    }


TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


def transient(exc: Exception) -> bool:
    """DynamoDB was busy or briefly failing (after botocore's own retries): the caller may try again
    later, so an API answers 503 with Retry-After instead of a bare 500."""
    code = getattr(exc, "cause_response_code", None)
    if code is None:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in TRANSIENT_ERRORS or transaction_conflict(exc)


_connections: dict[str | None, Connection] = {}


def shared_client(connection: Connection) -> Connection:
    """Give a PynamoDB connection the container's one DynamoDB client (``wabaguard.aws.client``).

    PynamoDB makes a botocore session and client for each connection, and a connection for each
    model class first used on its own (``User`` before ``AccountsItem``, say): ~40 ms each on a
    cold start, several per first invocation (issue #26). botocore clients are thread-safe, so one
    serves every model, transaction and hand-made call; it is looked up per call, so a test that
    forgets the clients (``reset_clients``) is followed by every model at once."""
    dynamodb = aws.client("dynamodb")
    if connection._client is not dynamodb:
        connection._client = dynamodb
    return connection


def transaction() -> TransactWrite:
    """A write transaction across our tables (all in one region), on the shared client."""
    region = _region()
    if region not in _connections:
        _connections[region] = Connection(region=region)
    return TransactWrite(connection=shared_client(_connections[region]))


class Item(Model):
    """Base of our models: the table connection uses the container's one DynamoDB client."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        shared_client(table.connection)
        return table


def reset_transactions() -> None:
    """Forget the cached connection (tests that switch endpoints, like the models' ``_connection``)."""
    _connections.clear()


def iso(ts: datetime | float) -> str:
    """UTC ISO 8601 with a Z, second precision: what every response and email shows."""
    if not isinstance(ts, datetime):
        ts = datetime.fromtimestamp(ts, tz=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ key builders
def account_pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def phone_pk(phone_number_id: str) -> str:
    return f"PHONE#{phone_number_id}"


META = "META"


def user_sk(user_id: str) -> str:
    return f"USER#{user_id}"


def api_key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def template_sk(template_id: str) -> str:
    return f"TEMPLATE#{template_id}"


def partner_change_sk(request_id: str) -> str:
    return f"PCR#{request_id}"


def challenge_pk(challenge_id: str) -> str:
    return f"CH#{challenge_id}"


def rate_pk(user_id: str) -> str:
    return f"RATE#{user_id}"


def totp_pk(user_id: str) -> str:
    return f"TOTP#{user_id}"


# ------------------------------------------------------------------ Accounts table
class ChangeRecord(MapAttribute):  # type: ignore[type-arg]
    """Who changed an item, from where, and what kind of change it was.

    Every notifiable write sets a fresh ``last_change`` on the item; the stream filter lets only
    such records reach the notifier, which compares old and new images to say what changed.
    """

    change_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    at = UnicodeAttribute()
    by_user_id = UnicodeAttribute(null=True)
    by_email = UnicodeAttribute(null=True)
    by_key_prefix = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)  # what a system change is about (the flag that starts or ends a review)
    approved_with = UnicodeAttribute(null=True)  # a key action's factor: code | passkey (its receipt)


def system_change(kind: str, at: datetime, by: str, ref: str | None = None) -> ChangeRecord:
    """A change made by wabaguard itself or by ops (no request behind it): who, what, when."""
    return ChangeRecord(change_id=new_id("chg"), kind=kind, at=iso(at), by_email=by, ref=ref)


class DueIndex(GlobalSecondaryIndex["AccountsItem"]):
    """Work waiting for its time: a sparse index of the items that carry ``due`` (the kind of work:
    ``platform``, …) and ``due_at`` (when). An item leaves it when the work is done (both removed)."""

    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    due = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class ListingIndex(GlobalSecondaryIndex["AccountsItem"]):
    """What ops list across accounts: a sparse index of the items that carry ``listing`` (flags by
    status: ``FLAGS#open``) and ``listed_at`` (newest last, made unique by the item's id)."""

    class Meta:
        index_name = "by_listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class AccountsItem(Item):
    """Base of every item in the Accounts table (single-table design, typed by ``item_type``)."""

    class Meta:
        table_name = _str("ACCOUNTS_TABLE")
        region = _region()
        stream_view_type = "NEW_AND_OLD_IMAGES"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = DiscriminatorAttribute()
    last_change = ChangeRecord(null=True)
    due = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    by_due = DueIndex()
    listing = UnicodeAttribute(null=True)
    listed_at = UnicodeAttribute(null=True)
    by_listing = ListingIndex()
