"""EventBridge, locally: the rule the README shows a BSP (``source`` wabaguard, ``detail-type``
Partner change submitted) routes the default bus's events to a queue in moto, and
``GET /_local/eventbridge`` lists what arrived — in EventBridge's own envelope, as a real rule's
target receives it."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3

QUEUE = "wabaguard-local-eventbridge"
RULE = "wabaguard-partner-change-submitted"
PATTERN = {"source": ["wabaguard"], "detail-type": ["Partner change submitted"]}


class EventBus:
    """The local rule and its queue; ``events()`` drains the queue into what was seen so far."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sqs = boto3.client("sqs", region_name=region)
        self.queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events", region_name=region)
        events.put_rule(Name=RULE, EventPattern=json.dumps(PATTERN), State="ENABLED")
        events.put_targets(Rule=RULE, Targets=[{"Id": "local-queue", "Arn": arn}])

    def events(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=self.region)
        with self._lock:
            while True:
                got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                messages = got.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self._seen.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return list(self._seen)
