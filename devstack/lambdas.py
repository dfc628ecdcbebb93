"""Lambda's asynchronous invoke (``InvocationType="Event"``) between the template's functions.

The risk scan fans out to itself, one worker per shard that is behind; locally the call is caught
at botocore (moto's Lambda would need Docker), held to the caller's template policy like every
other local AWS call (``lambda:InvokeFunction`` on the target), and the target function runs on a
thread of its own with the payload as its event — answering 202 at once, as Lambda does.
"""

from __future__ import annotations

import json
import threading
import traceback
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from devstack.cfn import Stack
from devstack.runtime import Functions

_installed: list[Any] = []


def function_names(stack: Stack) -> dict[str, str]:
    """Physical function name → logical id (a ``FunctionName`` property, else the local default)."""
    out = {}
    for logical_id, spec in stack.functions().items():
        name = spec.properties.get("FunctionName")
        out[str(stack.resolve(name)) if name else stack.default_name(logical_id)] = logical_id
    return out


def install(stack: Stack, functions: Functions) -> None:
    """Route ``lambda.Invoke`` of this stack's functions to ``functions`` (latest world wins)."""
    names = function_names(stack)
    threads: list[threading.Thread] = []

    def invoke(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("FunctionName", "")).rsplit(":", 1)[-1]
        if name not in names:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": f"{name}"}}, operation)
        if params.get("InvocationType") != "Event":
            raise ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": "only Event"}}, operation)
        event = json.loads(params.get("Payload") or b"{}")

        def run() -> None:
            try:
                functions.invoke(names[name], event)
            except Exception:  # noqa: BLE001 - an async invoke's failure is logged, as Lambda does
                traceback.print_exc()

        thread = threading.Thread(target=run, daemon=True, name=f"invoke-{name}")
        threads.append(thread)
        thread.start()
        return {"StatusCode": 202}

    state = {"invoke": invoke, "threads": threads}
    if _installed:
        _installed[0].update(state)
        return
    _installed.append(state)
    original = BaseClient._make_api_call

    def routed(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "lambda" and operation == "Invoke":
            from devstack.iam import Enforcer, _refuse_unless_allowed

            role = Enforcer._current.get()
            if role is not None:
                _refuse_unless_allowed(role, "lambda", operation, params)
            return _installed[0]["invoke"](operation, params)
        return original(client, operation, params)

    BaseClient._make_api_call = routed  # type: ignore[method-assign]


def wait_for_invocations(timeout: float = 60.0) -> None:
    """Wait for every async invocation, including those the invoked functions start in turn."""
    if not _installed:
        return
    joined = 0
    while joined < len(_installed[0]["threads"]):
        _installed[0]["threads"][joined].join(timeout)
        joined += 1
