"""The local event source mapping honours batchItemFailures the way Lambda does."""

from __future__ import annotations

from typing import Any

from wabaguard.models import PhoneNumber

from devstack.server import World


def _change(phone_id: str, n: int) -> None:
    from wabaguard.models import ChangeRecord

    PhoneNumber(*PhoneNumber.key(phone_id)).update(
        actions=[
            PhoneNumber.webhook_url.set(f"https://hooks{n}.example.net/wa"),
            PhoneNumber.last_change.set(
                ChangeRecord(
                    change_id=f"chg_{phone_id}_{n}",
                    kind="webhook_url_set",
                    at="2026-11-26T10:00:00Z",
                    by_email="a@acme.test",
                )
            ),
        ]
    )


def test_a_failed_record_is_delivered_again_and_those_before_it_are_not(world: World, demo: dict[str, Any]) -> None:
    phones = [
        demo["accounts"][0]["phone_numbers"][0]["phone_number_id"],
        demo["accounts"][1]["phone_numbers"][0]["phone_number_id"],
    ]
    world.pump.pump()  # the seed itself carries no change: nothing is delivered
    assert world.pump.delivered == []
    _change(phones[0], 1)
    _change(phones[1], 1)
    _change(phones[0], 2)

    calls: list[list[str]] = []
    failing = {"seq": None, "times": 2}

    def handler(name: str, event: dict[str, Any]) -> Any:
        seqs = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        calls.append(seqs)
        if failing["seq"] is None:
            failing["seq"] = seqs[1]
        if failing["seq"] in seqs and failing["times"] > 0:
            failing["times"] -= 1
            return {"batchItemFailures": [{"itemIdentifier": failing["seq"]}]}
        return {"batchItemFailures": []}

    world.functions.invoke = handler  # type: ignore[method-assign]
    world.pump.pump()
    first, second, third = calls[0], calls[1], calls[2]
    assert len(first) == 3
    assert second == first[1:]  # retried from the failed record; the first is checkpointed
    assert third == first[1:]
    assert len(calls) == 3 and world.pump.idle()


def test_records_without_a_change_are_filtered_out(world: World, demo: dict[str, Any]) -> None:
    phone = demo["accounts"][0]["phone_numbers"][0]["phone_number_id"]
    PhoneNumber(*PhoneNumber.key(phone)).update(actions=[PhoneNumber.display.set("+49 30 7654321")])
    world.pump.pump()
    assert world.pump.delivered == []


def test_exhausted_retries_go_to_the_on_failure_queue(world: World, demo: dict[str, Any]) -> None:
    import json

    import boto3

    phone = demo["accounts"][0]["phone_numbers"][0]["phone_number_id"]
    _change(phone, 1)

    def always_fails(name: str, event: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    world.functions.invoke = always_fails  # type: ignore[method-assign]
    world.pump.pump()
    mapping = world.pump.mappings[0]
    assert len(world.pump.delivered) == mapping.max_retries + 1
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = world.stack.physical["NotifierFailureQueue"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    info = json.loads(messages[0]["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == mapping.stream_arn


def test_a_function_is_held_to_its_own_template_policy(world: World) -> None:
    """The local stack refuses what the function's role in template.yaml would not allow."""
    import pytest
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import GetError
    from wabaguard.models import Credential

    roles = world.functions.iam
    assert roles is not None  # on by default, in make dev and in every test
    with roles.acting_as("RiskScanFunction"), pytest.raises(GetError) as refused:
        Credential.get("digest")  # the scan never reads credentials
    assert isinstance(refused.value.cause, ClientError)
    assert refused.value.cause_response_code == "AccessDeniedException"
    assert "RiskScanFunction" in str(refused.value.cause)
    with roles.acting_as("OtpVerifyFunction"), pytest.raises(Credential.DoesNotExist):
        Credential.get("digest")  # allowed: only the item is missing
