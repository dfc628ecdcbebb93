"""§People and ops, ingest for any producer (issue 22): activity records sent to the SQS queue in
moto, drained by the template's SQS mapping like Lambda's — written, or refused whole to the DLQ
with the reason — and counted in metrics."""

from __future__ import annotations

import json
from typing import Any

import boto3

from devstack.server import World
from tests.conftest import REGION


def _queue(world: World, logical_id: str) -> str:
    return str(world.stack.physical[logical_id])


def _send(world: World, body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    sqs = boto3.client("sqs", region_name=REGION)
    return str(sqs.send_message(QueueUrl=_queue(world, "ActivityIngestQueue"), MessageBody=text)["MessageId"])


def _dead_letters(world: World) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(
        QueueUrl=_queue(world, "ActivityIngestDeadLetterQueue"),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )
    return list(got.get("Messages", []))


def _records(account_id: str) -> list[Any]:
    from wabaguard.models import ActivityRecord, account_pk

    return list(ActivityRecord.query(account_pk(account_id)))


def test_a_message_of_records_is_written_once_even_when_delivered_twice(
    world: World, demo: dict[str, Any], capsys: Any
) -> None:
    acme = demo["accounts"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    batch = [
        {"account_id": acme["account_id"], "kind": "messages_sent", "at": "2026-11-24T12:00:00Z",
         "phone_number_id": pn, "count": 120, "countries": {"DE": 120}},
        {"account_id": acme["account_id"], "kind": "login", "at": "2026-11-24T12:01:00Z",
         "user_id": acme["users"][0]["user_id"], "ip": "203.0.113.7"},
    ]
    _send(world, batch)
    assert world.queues.pump() == 1
    assert len(_records(acme["account_id"])) == 2
    assert _dead_letters(world) == []
    # SQS delivers at least once: the same message again writes the same items, not new ones
    mapping = world.queues.mappings[0]
    event = world.queues._event(mapping, [{"MessageId": "m-1", "ReceiptHandle": "r", "Body": json.dumps(batch)}])
    for _ in range(2):
        assert world.functions.invoke("ActivityIngestFunction", event) == {"batchItemFailures": []}
    assert len(_records(acme["account_id"])) == 4, "two from the queue, two (once) from the repeated message"
    assert '"ActivityRecordsAccepted"' in capsys.readouterr().out


def test_a_message_with_one_bad_record_writes_nothing_and_waits_in_the_dlq_with_the_reason(
    world: World, demo: dict[str, Any], capsys: Any
) -> None:
    acme = demo["accounts"][0]
    good = {"account_id": acme["account_id"], "kind": "login", "at": "2026-11-24T12:01:00Z",
            "user_id": acme["users"][0]["user_id"], "ip": "203.0.113.7"}
    bad = {**good, "kind": "login", "ip": None, "user_id": None}
    sent = _send(world, [good, bad])
    _send(world, "not json")
    _send(world, [good] * 501)
    world.queues.pump()
    assert _records(acme["account_id"]) == [], "nothing of a refused message is written"
    letters = {m["MessageAttributes"]["source_message_id"]["StringValue"]: m for m in _dead_letters(world)}
    assert len(letters) == 3
    reason = letters[sent]["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith("[1].") and "required" in reason, reason
    assert json.loads(letters[sent]["Body"]) == [good, bad], "the message itself, to fix and send again"
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in letters.values())
    assert any("not valid JSON" in r for r in reasons) and any("at most 500" in r for r in reasons)
    out = capsys.readouterr().out
    assert '"ActivityRecordsRefused"' in out


def test_a_message_that_keeps_failing_goes_to_the_dlq_after_its_redrive_count(
    world: World, demo: dict[str, Any], monkeypatch: Any
) -> None:
    from wabaguard import ingest

    def throttled(records: Any) -> Any:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(ingest, "ingest", throttled)
    acme = demo["accounts"][0]
    _send(world, [{"account_id": acme["account_id"], "kind": "otp_failed", "at": "2026-11-24T12:00:00Z",
                   "user_id": "usr_1"}])
    for _ in range(6):  # reported failed each time: SQS makes it visible again, then redrives it
        world.queues.pump(max_rounds=1)
    letters = _dead_letters(world)
    assert len(letters) == 1 and "reason" not in letters[0].get("MessageAttributes", {})


def test_the_queue_and_its_alarm_are_in_the_template(world: World) -> None:
    template = world.stack.template
    outputs = template["Outputs"]
    assert "ActivityIngestQueue" in outputs and "ActivityIngestDeadLetterQueueUrl" in outputs
    alarm = template["Resources"]["ActivityRefusedAlarm"]["Properties"]
    assert alarm["MetricName"] == "ActivityRecordsRefused" and alarm["Threshold"] == 1
    redrive = template["Resources"]["ActivityIngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 5
