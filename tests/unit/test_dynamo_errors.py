"""How DynamoDB failures are read: a failed condition is a decision, a transaction conflict or a
throttle is not (retry or answer 503), and nothing else is mistaken for either."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import CancellationReason, GetError, PutError, TransactWriteError, VerboseClientError
from wabaguard.models import condition_failed, transaction_conflict, transient


def _cancelled(*codes: str | None) -> TransactWriteError:
    reasons = [None if c is None else CancellationReason(code=c) for c in codes]
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=reasons,
    )
    return TransactWriteError("Failed to write transaction items", cause)


def _failed(error: type[Exception], code: str) -> Exception:
    return error("failed", ClientError({"Error": {"Code": code, "Message": "m"}}, "Op"))


@pytest.mark.parametrize(
    ("exc", "condition", "conflict", "busy"),
    [
        (_failed(PutError, "ConditionalCheckFailedException"), True, False, False),
        (_cancelled(None, "ConditionalCheckFailed"), True, False, False),
        (_cancelled("ConditionalCheckFailed", "TransactionConflict"), True, False, False),
        (_cancelled(None, "TransactionConflict"), False, True, True),
        (_cancelled("None", "TransactionConflict", "TransactionConflict"), False, True, True),
        (_cancelled(None, "ThrottlingError"), False, False, False),
        (_failed(GetError, "ProvisionedThroughputExceededException"), False, False, True),
        (_failed(GetError, "InternalServerError"), False, False, True),
        (ClientError({"Error": {"Code": "ThrottlingException", "Message": "m"}}, "BatchGetItem"), False, False, True),
        (_failed(GetError, "ResourceNotFoundException"), False, False, False),
        (RuntimeError("boom"), False, False, False),
    ],
)
def test_dynamodb_errors_are_read_for_what_they_mean(
    exc: Exception, condition: bool, conflict: bool, busy: bool
) -> None:
    assert condition_failed(exc) is condition
    assert transaction_conflict(exc) is conflict
    assert transient(exc) is busy


def test_a_cancelled_transaction_without_reasons_is_read_as_a_failed_condition() -> None:
    """Callers fail closed on a condition failure, so the unknown case takes that side."""
    assert condition_failed(_cancelled()) is True
    assert transaction_conflict(_cancelled()) is False
