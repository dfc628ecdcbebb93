"""Meta's own OpenAPI description of the Graph API (``devstack/meta/``), as the local stand-in and
the tests read it: the operation a concrete call is, and what its request and answers may hold.

The stand-in takes its form rules from here rather than from wabaguard's code, so a rule the
product gets wrong cannot be wrong in the stand-in too; the contract test validates every call the
stand-in accepts and every answer it gives against the same description.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parent / "meta" / "business-messaging-api_v23.0.yaml"
BASE = "urn:meta:business-messaging-api"


def _drop(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return {k: _drop(v, key) for k, v in node.items() if k != key}
    if isinstance(node, list):
        return [_drop(v, key) for v in node]
    return node


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The description, loaded once, without Meta's non-standard ``parameterGroups``."""
    with SPEC.open() as f:
        loaded = yaml.load(f, Loader=yaml.CSafeLoader)
    return _drop(loaded, "parameterGroups")  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resource = Resource.from_contents(spec(), default_specification=DRAFT202012)
    return Registry().with_resource(BASE, resource)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$")


@lru_cache(maxsize=1)
def _templates() -> list[tuple[str, re.Pattern[str], int]]:
    out = [(t, _template_regex(t), t.count("{")) for t in spec()["paths"]]
    return sorted(out, key=lambda x: x[2])  # literal segments win over parameters


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """(path template, operation) a concrete call is, or None when Meta describes no such call."""
    for template, regex, _ in _templates():
        if regex.match(path):
            op = spec()["paths"][template].get(method.lower())
            if op is not None:
                return template, op
    return None


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _errors(pointer: str, instance: Any) -> list[str]:
    validator = OAS31Validator({"$ref": BASE + pointer}, registry=_registry())
    found: list[ValidationError] = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'.'.join(str(p) for p in e.path) or '(body)'}: {e.message}" for e in found]


def request_errors(method: str, path: str, body: Any) -> list[str]:
    """What Meta's description says is wrong with a call's JSON body ([] when it fits)."""
    found = operation(method, path)
    if found is None:
        return [f"Meta describes no {method} {path}"]
    template, op = found
    content = (op.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return []
    return _errors(_pointer("paths", template, method.lower(), "requestBody", "content", "application/json", "schema"),
                   body)  # fmt: skip


def response_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    """What Meta's description says is wrong with an answer ([] when it fits)."""
    found = operation(method, path)
    if found is None:
        return [f"Meta describes no {method} {path}"]
    template, op = found
    responses = op.get("responses", {})
    key = str(status) if str(status) in responses else "default" if "default" in responses else None
    if key is None and status >= 400:  # Meta's standard error shape, where an operation names none
        return _errors(_pointer("components", "schemas", "GraphAPIError"), body)
    if key is None:
        return [f"Meta describes no {status} answer for {method} {template}"]
    content = (responses[key] or {}).get("content", {})
    if "application/json" not in content:
        return []
    return _errors(_pointer("paths", template, method.lower(), "responses", key, "content", "application/json",
                            "schema"), body)  # fmt: skip


def schema(name: str) -> dict[str, Any]:
    """A named schema of ``components.schemas``."""
    return spec()["components"]["schemas"][name]  # type: ignore[no-any-return]


def verticals() -> frozenset[str]:
    """The business verticals Meta accepts on a profile."""
    return frozenset(schema("WhatsAppBusinessVertical")["enum"])
