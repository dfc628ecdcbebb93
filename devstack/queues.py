"""SQS → Lambda event source mapping, as the template configures it (``Type: SQS`` events).

Polls the queue in moto, delivers up to ``BatchSize`` messages in Lambda's SQS event shape and
honours ``ReportBatchItemFailures`` like Lambda does: reported messages (all of them when the
function raises) are left on the queue and come back after their visibility timeout — scaled
like every local retry schedule — and the queue's redrive policy moves a message that keeps
failing to its DLQ (moto counts receives as SQS does).
"""

from __future__ import annotations

import hashlib
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import boto3

from devstack.cfn import Stack
from devstack.runtime import Functions


@dataclass
class QueueMapping:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    visibility_s: int
    report_failures: bool


class QueuePump:
    def __init__(self, stack: Stack, functions: Functions, retry_scale: float = 1.0) -> None:
        self.stack, self.functions, self.retry_scale = stack, functions, retry_scale
        self.mappings: list[QueueMapping] = []
        for spec in functions.specs.values():
            for event in spec.events.values():
                if event["Type"] != "SQS":
                    continue
                props = event["Properties"]
                arn = str(stack.resolve(props["Queue"]))
                logical = next(k for k, v in stack.attributes.items() if k[1] == "Arn" and v == arn)[0]
                queue = stack.resources[logical].get("Properties", {})
                self.mappings.append(
                    QueueMapping(
                        function=spec.logical_id,
                        queue_url=stack.physical[logical],
                        queue_arn=arn,
                        batch_size=int(props.get("BatchSize", 10)),
                        visibility_s=int(queue.get("VisibilityTimeout", 30)),
                        report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    )
                )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _event(self, m: QueueMapping, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": msg["MessageId"],
                    "receiptHandle": msg["ReceiptHandle"],
                    "body": msg["Body"],
                    "attributes": msg.get("Attributes", {}),
                    "messageAttributes": {
                        name: {
                            "stringValue": value.get("StringValue"),
                            "binaryValue": value.get("BinaryValue"),
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": value["DataType"],
                        }
                        for name, value in msg.get("MessageAttributes", {}).items()
                    },
                    "md5OfBody": hashlib.md5(msg["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own field
                    "eventSource": "aws:sqs",
                    "eventSourceARN": m.queue_arn,
                    "awsRegion": self.stack.region,
                }
                for msg in messages
            ]
        }

    def _deliver(self, m: QueueMapping) -> int:
        sqs = boto3.client("sqs", region_name=self.stack.region)
        got = sqs.receive_message(
            QueueUrl=m.queue_url,
            MaxNumberOfMessages=min(m.batch_size, 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = got.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.functions.invoke(m.function, self._event(m, messages))
            failed = {
                f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", []) if m.report_failures
            }
        except Exception:  # noqa: BLE001 - the function raised: Lambda leaves the whole batch on the queue
            traceback.print_exc()
            failed = {msg["MessageId"] for msg in messages}
        for msg in messages:
            if msg["MessageId"] in failed:
                wait = max(0, round(m.visibility_s * self.retry_scale))
                sqs.change_message_visibility(
                    QueueUrl=m.queue_url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=wait
                )
            else:
                sqs.delete_message(QueueUrl=m.queue_url, ReceiptHandle=msg["ReceiptHandle"])
        return len(messages)

    def pump(self, max_rounds: int = 50) -> int:
        """Deliver until every queue is empty (or ``max_rounds``); returns messages delivered."""
        total = 0
        for _ in range(max_rounds):
            moved = sum(self._deliver(m) for m in self.mappings)
            total += moved
            if not moved:
                break
        return total

    def start(self, interval: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.pump(max_rounds=5)
                except Exception:  # noqa: BLE001 - keep polling like Lambda's poller does
                    traceback.print_exc()
                time.sleep(interval)

        self._thread = threading.Thread(target=loop, name="queue-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
