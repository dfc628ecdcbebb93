"""Reads ``template.yaml``: the one source of truth for tables, routes, streams and schedules.

The local stack and the test fixtures both build their world from this module, so neither keeps a
second list of resources. Only what the stack needs is resolved: ``Ref``, ``Fn::GetAtt``,
``Fn::Sub`` and parameters with their defaults.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
LOCAL_ACCOUNT = "123456789012"
LOCAL_API_ID = "wabaguardlocal"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns short-form intrinsics (``!Ref X``) into their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, intrinsics in long form: a copy of the parsed file, parsed again
    only when the file changes (parsing takes ~250 ms; the tests build a world per test)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class FunctionSpec:
    logical_id: str
    module: str  # importable module path, e.g. functions.otp_verify.app
    handler: str  # attribute name, e.g. handler
    properties: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.logical_id


@dataclass
class Route:
    method: str
    path: str  # template path without the stage, e.g. /phone-numbers/{phone_number_id}
    function: str  # logical id
    authorizer: str | None
    pattern: re.Pattern[str]
    params: list[str]


def route_pattern(path: str) -> tuple[re.Pattern[str], list[str]]:
    """Compile an API Gateway resource path (``/a/{b}``) into a matcher and its parameter names."""
    params = re.findall(r"{([^}+]+)\+?}", path)
    regex = re.sub(r"{[^}+]+\+}", "(.+)", path)
    regex = re.sub(r"{[^}]+}", "([^/]+)", regex)
    return re.compile(f"^{regex}$"), params


class Stack:
    """A template plus the physical names the local world gave its resources."""

    def __init__(
        self,
        template: dict[str, Any] | None = None,
        region: str = "us-east-1",
        prefix: str = "wabaguard-local",
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.template = template if template is not None else load_template()
        self.region = region
        self.prefix = prefix
        self.account = LOCAL_ACCOUNT
        self.parameters: dict[str, Any] = {
            name: spec.get("Default") for name, spec in self.template.get("Parameters", {}).items()
        }
        self.parameters.update(parameters or {})
        self.physical: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    # ---------------------------------------------------------------- lookups
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template["Resources"])

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == type_name}

    def default_name(self, logical_id: str) -> str:
        return f"{self.prefix}-{logical_id}"

    # ---------------------------------------------------------------- intrinsics
    def resolve(self, value: Any) -> Any:
        """Resolve intrinsics as far as the local world knows them."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._get_att(logical, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.prefix,
        }.get(name)

    def _ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        if name == "Api" or self.resources.get(name, {}).get("Type") == "AWS::Serverless::Api":
            return LOCAL_API_ID
        return self.default_name(name)

    def _get_att(self, logical: str, attr: str) -> str:
        if (logical, attr) in self.attributes:
            return self.attributes[(logical, attr)]
        rtype = self.resources.get(logical, {}).get("Type", "")
        name = self._ref(logical)
        if rtype == "AWS::DynamoDB::Table" and attr == "Arn":
            return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
        if rtype == "AWS::Serverless::Function" and attr == "Arn":
            return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        if rtype == "AWS::SQS::Queue" and attr == "Arn":
            return f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        return f"arn:aws:local:{self.region}:{self.account}:{logical}/{attr}"

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def repl(match: re.Match[str]) -> str:
            var = match.group(1)
            if var in variables:
                return str(self.resolve(variables[var]))
            if "." in var:
                logical, attr = var.split(".", 1)
                return str(self._get_att(logical, attr))
            return str(self._ref(var))

        return re.sub(r"\${([^}!]+)}", repl, text)

    # ---------------------------------------------------------------- functions and API
    def functions(self) -> dict[str, FunctionSpec]:
        glob = self.template.get("Globals", {}).get("Function", {})
        glob_env = glob.get("Environment", {}).get("Variables", {})
        specs: dict[str, FunctionSpec] = {}
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            code_uri = str(props["CodeUri"]).strip("/")
            module_file, _, attr = str(props["Handler"]).rpartition(".")
            module = ".".join([*code_uri.split("/"), module_file])
            env = {**glob_env, **props.get("Environment", {}).get("Variables", {})}
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                module=module,
                handler=attr,
                properties=props,
                environment={k: str(self.resolve(v)) for k, v in env.items()},
                events=props.get("Events", {}),
            )
        return specs

    def environment(self) -> dict[str, str]:
        """The union of every function's environment (they share one process locally)."""
        merged: dict[str, str] = {}
        for spec in self.functions().values():
            for key, value in spec.environment.items():
                if key in merged and merged[key] != value:
                    raise ValueError(f"functions disagree on environment variable {key}")
                merged[key] = value
        return merged

    def api(self) -> tuple[str, dict[str, Any]]:
        """The single REST API: its logical id and properties."""
        apis = self.of_type("AWS::Serverless::Api")
        if len(apis) != 1:
            raise ValueError(f"expected exactly one AWS::Serverless::Api, found {len(apis)}")
        ((logical_id, res),) = apis.items()
        return logical_id, res["Properties"]

    def routes(self) -> list[Route]:
        api_id, api_props = self.api()
        default_auth = api_props.get("Auth", {}).get("DefaultAuthorizer")
        routes = []
        for spec in self.functions().values():
            for event in spec.events.values():
                if event["Type"] != "Api":
                    continue
                props = event["Properties"]
                if props.get("RestApiId", {}).get("Ref") != api_id:
                    continue
                auth = props.get("Auth", {}).get("Authorizer", default_auth)
                pattern, params = route_pattern(props["Path"])
                routes.append(
                    Route(
                        method=props["Method"].upper(),
                        path=props["Path"],
                        function=spec.logical_id,
                        authorizer=None if auth in (None, "NONE") else auth,
                        pattern=pattern,
                        params=params,
                    )
                )
        # Literal segments win over parameters, as in API Gateway.
        routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
        return routes

    def authorizer_function(self, name: str) -> str:
        """Logical id of the function behind a named authorizer."""
        _, api_props = self.api()
        spec = api_props["Auth"]["Authorizers"][name]
        arn = spec["FunctionArn"]
        return str(arn["Fn::GetAtt"][0])

    def gateway_responses(self) -> dict[str, dict[str, Any]]:
        _, api_props = self.api()
        return dict(api_props.get("GatewayResponses", {}))

    def stage(self) -> str:
        _, api_props = self.api()
        return str(api_props["StageName"])
