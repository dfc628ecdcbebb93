"""The bench's cost is counted from a run, and this test reruns that run (issue #26): the functions
one key action invokes and the DynamoDB request units they spend must be what
``bench/results.json`` says, so a change that adds a write or an invocation fails here until
``make bench`` is run again and the README's figures follow."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.cfn import ROOT

sys.path.insert(0, str(Path(ROOT, "bench")))
from units import item_size, read_units, write_units

import bench


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    return bench.key_action_counts()


def committed() -> dict[str, Any]:
    return json.loads(Path(ROOT, "bench/results.json").read_text())["key_action"]


def test_the_committed_invocations_are_what_a_key_action_invokes(run: dict[str, Any]) -> None:
    assert run["invocations"] == committed()["invocations"]
    # every function a key action really causes is counted, the asynchronous ones included
    assert {
        "OtpVerifyFunction",
        "OtpChallengeFunction",
        "AccountApiFunction",
        "ChangeNotifierFunction",
        "PlatformApplyFunction",
        "MailEventsFunction",
    } <= set(run["invocations"])
    assert run["invocations"]["OtpVerifyFunction"] == 2  # the challenge's request and the action's


def test_the_committed_request_units_are_what_the_calls_spend(run: dict[str, Any]) -> None:
    assert run["request_units"] == committed()["request_units"]
    assert run["items_per_transaction"] == committed()["items_per_transaction"]
    assert max(run["items_per_transaction"]) >= 4  # the change's own transaction, not an assumed 2


def test_the_committed_storage_is_what_a_key_action_leaves(run: dict[str, Any]) -> None:
    def shape(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(i["table"], i["kind"], i["indexes"], i["kept_days"]) for i in items]

    left, was = run["items_left"], committed()["items_left"]
    assert shape(left) == shape(was)
    # a number's size follows its digits (a window's start, a time): a few bytes either way
    assert all(abs(a["bytes"] - b["bytes"]) <= 8 for a, b in zip(left, was, strict=True))
    kinds = {i["kind"] for i in run["items_left"]}
    # the change's own records, the notices' and the code email's delivery records among them
    assert {"platform_change", "challenge", "mail_delivery", "webhook_delivery"} <= kinds
    assert all(i["bytes"] > 100 for i in run["items_left"])  # each with DynamoDB's 100 bytes of overhead


def test_every_dynamodb_call_of_the_run_is_billed(run: dict[str, Any]) -> None:
    for fn, ops in run["calls"].items():
        dynamo = {op: n for op, n in ops.items() if op.startswith("dynamodb:")}
        if dynamo:
            units = run["request_units"][fn]
            assert units["read"] + units["write"] > 0, fn
        writes = sum(n for op, n in dynamo.items() if op.split(":")[1] in bench.Meter.WRITES)
        assert (writes == 0) == (run["request_units"].get(fn, {}).get("write", 0) == 0), fn


def test_units_follow_dynamodbs_rules() -> None:
    assert item_size({"pk": {"S": "abc"}, "n": {"N": "12345"}}) == 2 + 3 + 1 + 4
    assert item_size({"m": {"M": {"a": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    assert write_units(1) == 1 and write_units(1025) == 2 and write_units(100, factor=2) == 2
    assert read_units(10, consistent=False) == 0.5 and read_units(4097, consistent=True) == 2
