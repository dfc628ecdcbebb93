"""Each function's AWS calls checked against its own policy in the template, as Lambda's role would.

moto allows everything, so without this a permission missing from ``template.yaml`` is found on
the first deploy instead of by ``make test``. While a function runs (``Functions.invoke``), every
botocore call it makes is mapped to the IAM actions and resource ARNs AWS would authorize — a
transaction to one action per item, as DynamoDB does — and refused with ``AccessDeniedException``
unless a statement of the function's ``Policies`` allows it and none denies it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from devstack.cfn import Stack

_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True)
class Request:
    """One IAM authorization a call needs: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    alternatives: tuple[str, ...] = ()  # other ARNs that authorize it as well (SES: address or domain)


class Policy:
    """A function's inline policy statements, resolved against the local stack."""

    def __init__(self, function: str, statements: list[dict[str, Any]]) -> None:
        self.function = function
        self.statements = statements

    @classmethod
    def of(cls, stack: Stack, logical_id: str) -> Policy:
        props = stack.resources[logical_id].get("Properties", {})
        statements: list[dict[str, Any]] = []
        for policy in props.get("Policies", []) or []:
            if not isinstance(policy, dict) or "Statement" not in policy:
                raise ValueError(f"{logical_id}: only inline policy statements are understood locally")
            statements.extend(stack.resolve(policy["Statement"]))
        return cls(logical_id, statements)

    def allows(self, request: Request) -> bool:
        """Whether the request, on its resource or one of its alternatives, is allowed."""
        return any(
            self._allows(request.action, arn, dict(request.context))
            for arn in (request.resource, *request.alternatives)
        )

    def _allows(self, action: str, resource: str, context: dict[str, str]) -> bool:
        """IAM evaluation: an explicit Deny wins, else some Allow must match."""
        allowed = False
        for statement in self.statements:
            if not _matches_any(statement.get("Action", []), action):
                continue
            if not _matches_any(statement.get("Resource", []), resource):
                continue
            if not _conditions_hold(statement.get("Condition"), context):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
        return allowed


def _matches_any(patterns: Any, value: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _conditions_hold(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    """The operators our template uses; an unknown operator or a missing key never holds."""
    for operator, tests in (condition or {}).items():
        if operator not in ("StringEquals", "StringLike"):
            return False
        for key, expected in tests.items():
            expected = [expected] if isinstance(expected, str) else expected
            actual = context.get(key)
            if operator == "StringEquals":
                ok = actual is not None and actual in expected
            else:
                ok = actual is not None and any(fnmatch.fnmatchcase(actual, e) for e in expected)
            if not ok:
                return False
    return True


def requests_of(stack: Stack, service: str, operation: str, params: dict[str, Any]) -> list[Request]:
    """The authorizations a call needs. Unknown calls need ``<service>:<operation>`` on ``*``
    (so only a policy granting it everywhere — which ours never do — lets them through)."""
    prefix = f"arn:aws:{service}:{stack.region}:{stack.account}"
    if service == "dynamodb":
        return _dynamodb(prefix, operation, params)
    if service == "secretsmanager":
        return [Request(f"secretsmanager:{operation}", _secret_arn(stack, params.get("SecretId", "")))]
    if service == "kms":
        key = params.get("KeyId")
        if key is None:  # Decrypt: the key is inside the ciphertext
            return [Request(f"kms:{operation}", _any_key_of(stack))]
        arn = key if key.startswith("arn:") else f"arn:aws:kms:{stack.region}:{stack.account}:key/{key}"
        return [Request(f"kms:{operation}", arn)]
    if service == "ses" and operation in ("SendRawEmail", "SendEmail"):
        return _ses(prefix, operation, params)
    if service == "sqs":
        name = str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        return [Request(f"sqs:{operation}", f"{prefix}:{name}")]
    if service == "sns":
        return [Request(f"sns:{operation}", str(params.get("TopicArn", "")))]
    if service == "events" and operation == "PutEvents":  # one authorization per bus named
        buses = {str(e.get("EventBusName") or "default") for e in params.get("Entries", [])}
        return [Request("events:PutEvents", f"{prefix}:event-bus/{bus.rsplit('/', 1)[-1]}") for bus in sorted(buses)]
    if service == "lambda" and operation == "Invoke":
        name = str(params.get("FunctionName", "")).rsplit(":", 1)[-1]
        return [Request("lambda:InvokeFunction", f"arn:aws:lambda:{stack.region}:{stack.account}:function:{name}")]
    return [Request(f"{service}:{operation}", "*")]


def _dynamodb(prefix: str, operation: str, params: dict[str, Any]) -> list[Request]:
    def table(name: str, index: str | None = None) -> str:
        return f"{prefix}:table/{name}" + (f"/index/{index}" if index else "")

    if operation in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            out.append(Request(f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}", table(body["TableName"])))
        return out
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Request(f"dynamodb:{operation}", table(name)) for name in params.get("RequestItems", {})]
    return [Request(f"dynamodb:{operation}", table(params.get("TableName", ""), params.get("IndexName")))]


def _ses(prefix: str, operation: str, params: dict[str, Any]) -> list[Request]:
    source = params.get("Source")
    if not source and "RawMessage" in params:
        source = BytesHeaderParser().parsebytes(params["RawMessage"]["Data"]).get("From", "")
    address = parseaddr(source or "")[1]
    context = (("ses:FromAddress", address),)
    domain = address.rpartition("@")[2]
    # SES authorizes the identity that covers the sender (the address, else its domain)
    out = [Request(f"ses:{operation}", f"{prefix}:identity/{address}", context, (f"{prefix}:identity/{domain}",))]
    if params.get("ConfigurationSetName"):
        out.append(Request(f"ses:{operation}", f"{prefix}:configuration-set/{params['ConfigurationSetName']}", context))
    return out


def _secret_arn(stack: Stack, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    for logical in stack.of_type("AWS::SecretsManager::Secret"):
        arn = stack.physical.get(logical, "")
        if arn.rsplit(":", 1)[-1].startswith(secret_id):
            return arn
    return f"arn:aws:secretsmanager:{stack.region}:{stack.account}:secret:{secret_id}"


def _any_key_of(stack: Stack) -> str:
    for logical in stack.of_type("AWS::KMS::Key"):
        return stack.attributes.get((logical, "Arn"), "")
    return "*"


class Enforcer:
    """Installs the check once per process; ``acting_as`` names the function whose role applies."""

    _installed = False
    _lock = threading.Lock()
    _current: ContextVar[tuple[Stack, Policy] | None] = ContextVar("devstack_iam_role", default=None)

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._policies: dict[str, Policy] = {}  # resolved on first use: after the resources exist
        self._install()

    @contextlib.contextmanager
    def acting_as(self, logical_id: str) -> Iterator[None]:
        if logical_id not in self._policies:
            self._policies[logical_id] = Policy.of(self.stack, logical_id)
        token = Enforcer._current.set((self.stack, self._policies[logical_id]))
        try:
            yield
        finally:
            Enforcer._current.reset(token)

    @classmethod
    def _install(cls) -> None:
        with cls._lock:
            if cls._installed:
                return
            original = BaseClient._make_api_call

            def checked(client: Any, operation: str, params: dict[str, Any]) -> Any:
                role = cls._current.get()
                if role is not None:
                    _refuse_unless_allowed(role, client.meta.service_model.service_name, operation, params)
                return original(client, operation, params)

            BaseClient._make_api_call = checked  # type: ignore[method-assign]
            cls._installed = True


def _refuse_unless_allowed(role: tuple[Stack, Policy], service: str, operation: str, params: dict[str, Any]) -> None:
    stack, policy = role
    for request in requests_of(stack, service, operation, params):
        if not policy.allows(request):
            message = (
                f"{policy.function} is not authorized to perform {request.action} on {request.resource} "
                "(see its Policies in template.yaml)"
            )
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)
