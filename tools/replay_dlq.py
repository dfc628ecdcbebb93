"""Replay the change notifier's on-failure queue: re-read the failed stream records and deliver
them to the notifier again. Idempotency makes this safe: recipients who got a notice already are
skipped, so only the missing emails go out.

AWS:   make replay-dlq STACK=wabaguard-prod   (reads the queue and function from the stack)
local: POST /_local/replay-dlq on the local stack
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import boto3


def _records(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records of one failed batch, in Lambda's event shape."""
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    end = int(info["endSequenceNumber"])
    out: list[dict[str, Any]] = []
    while iterator and len(out) < int(info.get("batchSize", 10_000)):
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        for rec in page.get("Records", []):
            if int(rec["dynamodb"]["SequenceNumber"]) > end:
                return out
            ddb = dict(rec["dynamodb"])
            created: Any = ddb.get("ApproximateCreationDateTime")
            if hasattr(created, "timestamp"):
                ddb["ApproximateCreationDateTime"] = created.timestamp()
            out.append(
                {
                    "eventID": rec["eventID"],
                    "eventName": rec["eventName"],
                    "eventVersion": rec.get("eventVersion", "1.1"),
                    "eventSource": "aws:dynamodb",
                    "awsRegion": rec.get("awsRegion"),
                    "dynamodb": ddb,
                    "eventSourceARN": info["streamArn"],
                }
            )
        if not page.get("Records"):
            break
        iterator = page.get("NextShardIterator")
    return out


def replay(
    queue_url: str, invoke: Callable[[dict[str, Any]], Any], region: str | None = None, max_messages: int = 100
) -> dict[str, int]:
    """Deliver every queued failure again; a message is deleted only when its batch succeeds."""
    sqs = boto3.client("sqs", region_name=region)
    streams = boto3.client("dynamodbstreams", region_name=region)
    summary = {"messages": 0, "records": 0, "replayed": 0, "still_failing": 0}
    seen = 0
    while seen < max_messages:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not got:
            break
        for message in got:
            seen += 1
            summary["messages"] += 1
            info = json.loads(message["Body"])["DDBStreamBatchInfo"]
            records = _records(streams, info)
            summary["records"] += len(records)
            result = invoke({"Records": records}) if records else {"batchItemFailures": []}
            failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
            if failures:
                summary["still_failing"] += len(failures)
                continue  # stays in the queue (visible again after the timeout)
            summary["replayed"] += len(records)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return summary


def _stack_resource(cfn: Any, stack: str, logical_id: str) -> str:
    res = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return str(res["StackResourceDetail"]["PhysicalResourceId"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="CloudFormation stack name, e.g. wabaguard-prod")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    cfn = boto3.client("cloudformation", region_name=args.region)
    queue_url = _stack_resource(cfn, args.stack, "NotifierFailureQueue")
    function = _stack_resource(cfn, args.stack, "ChangeNotifierFunction")
    lam = boto3.client("lambda", region_name=args.region)

    def invoke(event: dict[str, Any]) -> Any:
        out = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        return json.loads(out["Payload"].read() or b"{}")

    print(json.dumps(replay(queue_url, invoke, args.region)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
