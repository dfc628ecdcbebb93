"""DynamoDB stream → Lambda event source mapping, as the template configures it.

Reads the table's stream from moto, applies the mapping's ``FilterCriteria``, delivers batches in
Lambda's DynamoDB-stream event shape and honours ``ReportBatchItemFailures`` like Lambda does: the
batch is retried from the lowest failed sequence number (records before it are done), a function
error bisects the batch, and after ``MaximumRetryAttempts`` the failed range goes to the
on-failure destination as Lambda's invocation record.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from devstack.cfn import Stack
from devstack.runtime import Functions


def _matches(pattern: Any, value: Any, present: bool = True) -> bool:
    """The subset of event-pattern matching Lambda filters use: nesting, values, exists, prefix."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches(sub, value.get(key), key in value) for key, sub in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict):
                if "exists" in option and bool(option["exists"]) == present:
                    return True
                if "prefix" in option and isinstance(value, str) and value.startswith(option["prefix"]):
                    return True
                if "anything-but" in option:
                    but = option["anything-but"]
                    but = but if isinstance(but, list) else [but]
                    if present and value not in but:
                        return True
            elif present and value == option:
                return True
        return False
    return present and value == pattern


def passes_filters(filters: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    if not filters:
        return True
    return any(_matches(json.loads(f["Pattern"]), record) for f in filters)


@dataclass
class Mapping:
    function: str
    table: str  # logical id
    stream_arn: str
    batch_size: int
    max_retries: int
    bisect: bool
    report_failures: bool
    filters: list[dict[str, Any]]
    on_failure_arn: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    iterators: dict[str, str | None] = field(default_factory=dict)
    attempts: int = 0
    batch_limit: int = 0


class StreamPump:
    """Polls every stream mapping of the template and invokes its function."""

    def __init__(self, stack: Stack, functions: Functions) -> None:
        self.stack = stack
        self.functions = functions
        self.after_round: Callable[[], bool] | None = None
        self.streams = boto3.client("dynamodbstreams", region_name=stack.region)
        self.sqs = boto3.client("sqs", region_name=stack.region)
        self.mappings: list[Mapping] = []
        self.delivered: list[dict[str, Any]] = []  # every event delivered, for tests
        self.deliveries: list[tuple[str, dict[str, Any]]] = []  # (function, event)
        self.dead_lettered = 0
        for spec in functions.specs.values():
            for event in spec.events.values():
                if event["Type"] != "DynamoDB":
                    continue
                props = event["Properties"]
                logical = props["Stream"]["Fn::GetAtt"][0]
                destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                self.mappings.append(
                    Mapping(
                        function=spec.logical_id,
                        table=logical,
                        stream_arn=str(stack.resolve(props["Stream"])),
                        batch_size=int(props.get("BatchSize", 100)),
                        max_retries=int(props.get("MaximumRetryAttempts", -1)),
                        bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                        report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                        filters=props.get("FilterCriteria", {}).get("Filters", []),
                        on_failure_arn=str(stack.resolve(destination)) if destination else None,
                    )
                )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ reading
    def _read(self, m: Mapping) -> None:
        if not m.iterators:
            desc = self.streams.describe_stream(StreamArn=m.stream_arn)["StreamDescription"]
            for shard in desc["Shards"]:
                it = self.streams.get_shard_iterator(
                    StreamArn=m.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )
                m.iterators[shard["ShardId"]] = it["ShardIterator"]
        for shard_id, iterator in list(m.iterators.items()):
            if iterator is None:
                continue
            out = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            m.iterators[shard_id] = out.get("NextShardIterator")
            for rec in out.get("Records", []):
                event_record = self._lambda_record(rec, m.stream_arn)
                if passes_filters(m.filters, event_record):
                    m.pending.append(event_record)

    def _lambda_record(self, rec: dict[str, Any], stream_arn: str) -> dict[str, Any]:
        ddb = dict(rec["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            ddb["ApproximateCreationDateTime"] = created.replace(tzinfo=created.tzinfo or UTC).timestamp()
        return {
            "eventID": rec["eventID"],
            "eventName": rec["eventName"],
            "eventVersion": rec.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": rec.get("awsRegion", self.stack.region),
            "dynamodb": ddb,
            "eventSourceARN": stream_arn,
        }

    # ------------------------------------------------------------ delivering
    def _deliver(self, m: Mapping) -> bool:
        """Deliver one batch; True if anything was delivered."""
        if not m.pending:
            return False
        limit = m.batch_limit or m.batch_size
        batch = m.pending[:limit]
        event = {"Records": batch}
        self.delivered.append(event)
        self.deliveries.append((m.function, event))
        failed_from: int | None
        try:
            result = self.functions.invoke(m.function, event)
            failed_from = self._first_failure(m, batch, result)
            errored = False
        except Exception:  # noqa: BLE001 - a function error fails the whole batch
            traceback.print_exc()
            failed_from, errored = 0, True
        if failed_from is None:
            del m.pending[: len(batch)]
            m.attempts, m.batch_limit = 0, 0
            return True
        del m.pending[:failed_from]  # records before the first failure are checkpointed
        m.attempts += 1
        if errored and m.bisect and len(batch) > 1:
            m.batch_limit = max(1, len(batch) // 2)
        if m.max_retries >= 0 and m.attempts > m.max_retries:
            failed = batch[failed_from:]
            self._to_failure_destination(m, failed)
            del m.pending[: len(failed)]
            m.attempts, m.batch_limit = 0, 0
        return True

    @staticmethod
    def _first_failure(m: Mapping, batch: list[dict[str, Any]], result: Any) -> int | None:
        if not m.report_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures") or []
        if not failures:
            return None
        seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
        indexes = []
        for failure in failures:
            ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if ident not in seqs:
                return 0  # an invalid identifier fails the whole batch, as on Lambda
            indexes.append(seqs.index(ident))
        return min(indexes)

    def _to_failure_destination(self, m: Mapping, failed: list[dict[str, Any]]) -> None:
        self.dead_lettered += len(failed)
        if not m.on_failure_arn:
            return
        name = m.on_failure_arn.rsplit(":", 1)[-1]
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        first, last = failed[0]["dynamodb"], failed[-1]["dynamodb"]
        record = {
            "requestContext": {
                "requestId": failed[0]["eventID"],
                "functionArn": self.stack.resolve({"Fn::GetAtt": [m.function, "Arn"]}),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": m.attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": next(iter(m.iterators), "shard"),
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(failed),
                "streamArn": m.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    # ------------------------------------------------------------ driving
    def delivered_to(self, function: str) -> list[dict[str, Any]]:
        return [event for name, event in self.deliveries if name == function]

    def pump(self, max_rounds: int = 100) -> int:
        """Read and deliver until nothing is pending (or ``max_rounds``); returns batches delivered.
        ``after_round`` (SES's events of the emails just sent) runs after each round: what it
        writes is delivered by the next one."""
        delivered = 0
        for _ in range(max_rounds):
            progressed = False
            for m in self.mappings:
                self._read(m)
                if self._deliver(m):
                    delivered += 1
                    progressed = True
            if self.after_round is not None and self.after_round():
                progressed = True
            if not progressed:
                break
        return delivered

    def start(self, interval: float = 0.2) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.pump(max_rounds=10)
                except Exception:  # noqa: BLE001 - keep polling; errors are printed
                    traceback.print_exc()
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="stream-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def idle(self) -> bool:
        return all(not m.pending for m in self.mappings)


def wait_idle(pump: StreamPump, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pump.idle():
            return
        time.sleep(0.05)
