"""``wabaguard.batches`` answers a batch as Powertools Batch would (it replaces it for cold starts,
issue #26): the same failures reported for the same records, an entirely failed batch raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from wabaguard import batches

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _sqs(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": "h",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def _stream(keys: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventID": f"e-{i}",
                "eventName": "MODIFY",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": {"S": key}, "sk": {"S": "x"}},
                    "SequenceNumber": f"{100 + i}",
                    "SizeBytes": 10,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
            for i, key in enumerate(keys)
        ]
    }


def _fails_on_bad_sqs(record: Any) -> None:
    body = record["body"] if isinstance(record, dict) else record.body
    if body == "bad":
        raise ValueError("bad record")


def _fails_on_bad_stream(record: Any) -> None:
    key = record["dynamodb"]["Keys"]["pk"]["S"] if isinstance(record, dict) else record.dynamodb.keys["pk"]
    if key == "bad":
        raise ValueError("bad record")


CASES = [
    (EventType.SQS, batches.sqs, _sqs, _fails_on_bad_sqs),
    (EventType.DynamoDBStreams, batches.stream, _stream, _fails_on_bad_stream),
]


@pytest.mark.parametrize(("kind", "ours", "make", "handle"), CASES, ids=["sqs", "stream"])
@pytest.mark.parametrize("values", [["ok"], ["ok", "bad", "ok"], ["bad", "ok", "bad", "ok"], ["ok", "ok"]], ids=str)
def test_the_same_failures_as_powertools_reports(
    kind: Any, ours: Any, make: Any, handle: Any, values: list[str]
) -> None:
    event = make(values)
    theirs = process_partial_response(event=event, record_handler=handle, processor=BatchProcessor(event_type=kind))
    assert ours(event, handle) == dict(theirs)


@pytest.mark.parametrize(("kind", "ours", "make", "handle"), CASES, ids=["sqs", "stream"])
def test_a_batch_that_failed_entirely_is_raised_as_powertools_raises_it(
    kind: Any, ours: Any, make: Any, handle: Any
) -> None:
    event = make(["bad", "bad"])
    with pytest.raises(BatchProcessingError):
        process_partial_response(event=event, record_handler=handle, processor=BatchProcessor(event_type=kind))
    with pytest.raises(batches.BatchFailed) as failed:
        ours(event, handle)
    assert len(failed.value.errors) == 2


@pytest.mark.parametrize(
    ("sample", "ours"), [("sqs_activity_ingest.json", batches.sqs), ("stream_webhook_changed.json", batches.stream)]
)
def test_a_real_sample_batch_is_answered_by_the_identifier_lambda_reads(sample: str, ours: Any) -> None:
    """The sample payloads in events/ (as Lambda delivers them): a failed record is reported by
    the field Lambda's partial batch response names, and matches what Powertools reports."""
    event = json.loads((EVENTS / sample).read_text())
    if len(event["Records"]) == 1:  # a second record, so that one can fail alone
        second = json.loads(json.dumps(event["Records"][0]))
        second["eventID"], second["dynamodb"]["SequenceNumber"] = "e-2", "999000000000000000002"
        event["Records"].append(second)
    last = event["Records"][-1]

    def fail_the_last(record: Any) -> None:
        raw = record if isinstance(record, dict) else record.raw_event
        if raw is last:
            raise ValueError("fail")

    kind = EventType.SQS if ours is batches.sqs else EventType.DynamoDBStreams
    out = ours(event, fail_the_last)
    wanted = last["messageId"] if ours is batches.sqs else last["dynamodb"]["SequenceNumber"]
    assert out == {"batchItemFailures": [{"itemIdentifier": wanted}]}
    theirs = process_partial_response(
        event=event, record_handler=fail_the_last, processor=BatchProcessor(event_type=kind)
    )
    assert dict(theirs) == out


@pytest.mark.parametrize("event", [{"detail": {}}, {"Records": []}, {"Records": "x"}, None], ids=str)
def test_an_event_that_is_not_a_batch_is_refused_loudly(event: Any) -> None:
    with pytest.raises(ValueError, match="Records"):
        batches.sqs(event, lambda r: None)
    with pytest.raises(ValueError, match="Records"):
        batches.stream(event, lambda r: None)
