"""Partial batch responses for SQS and DynamoDB-stream event source mappings
(``ReportBatchItemFailures``): each record is handled on its own, and only the ones that failed
are reported, by message id or by sequence number, for Lambda to retry.

Written by hand rather than with Powertools Batch because ``utilities.batch`` imports asyncio
(for its async processor) and the ``data_classes`` package, which loads every event class
Powertools has — ~35 ms of every cold start of the three functions that consume batches, for a
loop (issue #26). ``tests/unit/test_batches.py`` holds the responses to Powertools' own for the
same batches: the same failures reported, and an entirely failed batch raised, not reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(child=True)

Record = dict[str, Any]


class BatchFailed(Exception):
    """Every record of the batch failed: raised (as Powertools does) so that the whole batch is
    retried and the invocation counts as an error, rather than reported as all-failed."""

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(f"All {len(errors)} records failed processing")
        self.errors = errors


def _records(event: Any) -> list[Record]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:  # Lambda never sends an empty batch
        raise ValueError("not a batch event: no Records")  # a misrouted event, failed loudly (as Powertools)
    return records


def _partial(event: Any, handle: Callable[[Record], None], identifier: Callable[[Record], str]) -> dict[str, Any]:
    records = _records(event)
    failed: list[dict[str, str]] = []
    errors: list[BaseException] = []
    for record in records:
        try:
            handle(record)
        except Exception as exc:  # one record's failure is reported, not the batch's
            item = identifier(record)
            logger.exception("batch record failed", extra={"item": item, "error_type": type(exc).__name__})
            failed.append({"itemIdentifier": item})
            errors.append(exc)
    if len(errors) == len(records):
        raise BatchFailed(errors)
    return {"batchItemFailures": failed}


def sqs(event: Any, handle: Callable[[Record], None]) -> dict[str, Any]:
    """An SQS batch: failed messages reported by ``messageId`` (SQS redelivers only those)."""
    return _partial(event, handle, lambda record: str(record["messageId"]))


def stream(event: Any, handle: Callable[[Record], None]) -> dict[str, Any]:
    """A DynamoDB stream batch: failed records reported by sequence number (Lambda retries from
    the lowest one reported, so what follows it comes again: the consumers are idempotent)."""
    return _partial(event, handle, lambda record: str(record["dynamodb"]["SequenceNumber"]))
