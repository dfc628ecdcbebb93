"""In-process Lambda invocation: import the handler the template names, call it with a context.

One lock per function stands in for Lambda's one-event-per-container rule: Powertools resolvers
keep the current event on the app object, exactly as they may on Lambda. On Lambda each function
also has a process of its own; here they share one, so each function's Powertools ``Metrics`` gets
a metric set of its own (``private_metrics``).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from devstack.cfn import FunctionSpec, Stack
from devstack.iam import Enforcer


class LocalContext:
    """The attributes of a Lambda context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, stack: Stack, timeout_s: int) -> None:
        name = stack.default_name(spec.logical_id)
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{stack.region}:{stack.account}:function:{name}"
        self.memory_limit_in_mb = int(spec.properties.get("MemorySize", 512))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def private_metrics(module: Any) -> None:
    """Give the module's Powertools ``Metrics`` a metric set of its own. Powertools keeps metrics in
    class attributes shared by every ``Metrics`` of the process, which on Lambda is one function's;
    in-process, the authorizer's metric could be flushed by the handler running beside it, and a
    flush that found a metric and then serialized an emptied set raised "Must contain at least one
    metric" (seen in the fifty-thread OTP race test)."""
    from aws_lambda_powertools import Metrics

    for value in list(vars(module).values()):
        if isinstance(value, Metrics):
            value.metric_set, value.dimension_set, value.metadata_set = {}, {}, {}
            provider = value.provider
            provider.metric_set, provider.dimension_set = value.metric_set, value.dimension_set
            provider.metadata_set = value.metadata_set


class Functions:
    """The template's functions, imported lazily and invoked one event at a time each."""

    def __init__(self, stack: Stack, enforce_roles: bool = True) -> None:
        self.stack = stack
        self.specs = stack.functions()
        glob = stack.template.get("Globals", {}).get("Function", {})
        self._default_timeout = int(glob.get("Timeout", 3))
        self._locks = {name: threading.Lock() for name in self.specs}
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        # each function's AWS calls are held to its template policy; the benchmark turns this
        # local-only check off so that it measures the handlers, not the stand-in for IAM
        self.iam = Enforcer(stack) if enforce_roles else None

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        if logical_id not in self._handlers:
            spec = self.specs[logical_id]
            module = importlib.import_module(spec.module)
            private_metrics(module)
            self._handlers[logical_id] = getattr(module, spec.handler)
        return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        spec = self.specs[logical_id]
        timeout = int(spec.properties.get("Timeout", self._default_timeout))
        fn = self.handler(logical_id)
        role = self.iam.acting_as(logical_id) if self.iam is not None else contextlib.nullcontext()
        with self._locks[logical_id], role:
            return fn(event, LocalContext(spec, self.stack, timeout))
