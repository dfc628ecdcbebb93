"""What each function loads when Lambda imports it (issues #23 and #26): the heavy libraries stay
off the paths that do not use them, and the authorizer's hand-read event and hand-built policies
match Powertools' own data classes, which it no longer imports."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from devstack.cfn import ROOT, Stack

FUNCTIONS = sorted(p.name for p in Path(ROOT, "functions").iterdir() if (p / "app.py").exists())
# Loaded by no function at import: the passkey crypto (on the passkey path only), X-Ray's SDK
# (tracing is a runtime concern), Powertools Batch (asyncio and every event data class, for a loop
# that ``wabaguard.batches`` is), the Event Handler's resolvers other than the REST one
# (``wabaguard.web`` opens it without event_handler/__init__, ``lazy.submodule``).
OTHER_RESOLVERS = tuple(
    f"aws_lambda_powertools.event_handler.{m}"
    for m in ("appsync", "events_appsync", "bedrock_agent", "bedrock_agent_function", "http_resolver", "vpc_lattice")
)
NEVER = (
    "webauthn",
    "cryptography",
    "OpenSSL",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.batch",
    "asyncio",
    *OTHER_RESOLVERS,
)
NOT_ON_AUTHORIZER = (
    *NEVER,
    "aws_lambda_powertools.utilities.data_classes",
    "pydantic",
    "aws_lambda_powertools.event_handler",
)


def _env() -> dict[str, str]:
    return {
        **os.environ,
        **Stack().environment(),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PYTHONPATH": str(Path(ROOT, "layers/shared")),
    }


def printed_in(function: str, code: str) -> str:
    """The last line ``code`` prints, run in a fresh interpreter in ``function``'s directory."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(ROOT, "functions", function),
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def loaded_after_import(function: str) -> set[str]:
    return set(json.loads(printed_in(function, "import sys, json, app; print(json.dumps(sorted(sys.modules)))")))


def _has(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_the_authorizer_loads_only_what_every_request_needs() -> None:
    loaded = loaded_after_import("otp_verify")
    assert "wabaguard.otp.gate" in loaded  # the check is real: the module was imported
    assert [m for m in NOT_ON_AUTHORIZER if _has(loaded, m)] == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_loads_what_it_never_uses_at_import(function: str) -> None:
    loaded = loaded_after_import(function)
    assert "wabaguard" in loaded
    assert [m for m in NEVER if _has(loaded, m)] == []


# Functions that never validate a request body with pydantic: pydantic (the body schemas, the
# security events' models — built only when an event has a listener) stays off them; activity
# records are checked by hand (``ingest.check_record``). Nor does any function load Powertools'
# OpenAPI validation (every route parses its own body, its path parameters are strings).
NO_PYDANTIC = (
    "activity_ingest",
    "change_notifier",
    "mail_events",
    "partner_change",
    "platform_apply",
    "security_webhook",
    "waba_watch",
)
# Functions with routes that only read: the body schemas are imported by the first request that
# validates one (a key action, a challenge), not by the cold start of a read.
PYDANTIC_ON_FIRST_BODY = ("account_api", "otp_challenge")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_loads_the_event_handlers_openapi_validation(function: str) -> None:
    loaded = loaded_after_import(function)
    assert not _has(loaded, "aws_lambda_powertools.event_handler.middlewares.openapi_validation")
    if function in NO_PYDANTIC or function in PYDANTIC_ON_FIRST_BODY:
        assert not _has(loaded, "pydantic"), function
        assert "wabaguard.webhooks.events" not in loaded
        assert "wabaguard.schemas" not in loaded


def _authorizer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("otp_verify_app", Path(ROOT, "functions/otp_verify/app.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_authorizers_policies_are_the_ones_powertools_builds() -> None:
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerRequestEvent,
        APIGatewayAuthorizerResponse,
    )

    app = _authorizer()
    raw = json.loads(Path(ROOT, "events/authorizer_key_action.json").read_text())
    ev = APIGatewayAuthorizerRequestEvent(raw)
    arn = ev.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id="usr_1",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
        context={"body": '{"error": "otp_invalid"}', "error": "otp_invalid"},
    )
    policy.deny_all_routes()
    ours = app.deny(raw, "usr_1", {"error": "otp_invalid"})
    assert ours == policy.asdict()
    # headers are read without regard to case, as the data class reads them
    for name in ("authorization", "X-OTP-Challenge", "x-otp-code"):
        assert app.header(raw, name) == (ev.headers.get(name) or "")
    shouted = {**raw, "headers": {k.upper(): v for k, v in raw["headers"].items()}}
    assert app.header(shouted, "Authorization") == ev.headers.get("Authorization")
    assert app.header(raw, "X-Missing") == ""


def test_the_account_api_loads_each_capability_with_the_request_that_needs_it() -> None:
    """A read's cold start: no Partner changes, ops, passkeys, invites, security webhooks, and none
    of the OTP approval checks, which the first key action imports."""
    loaded = loaded_after_import("account_api")
    assert "wabaguard.web" in loaded  # the check is real
    deferred = ("wabaguard.ops", "wabaguard.partner_change", "wabaguard.passkeys.api", "wabaguard.people.invites",
                "wabaguard.webhooks.manage", "wabaguard.otp.checks", "wabaguard.keyactions.run")  # fmt: skip
    assert [m for m in deferred if m in loaded] == []


def test_metas_webhook_and_the_notifier_load_no_onboarding_and_no_powertools_idempotency() -> None:
    """Meta's webhook looks an account up by its WABA (``people.access``), it onboards nobody; the
    notifier keeps its own progress items, without Powertools Idempotency's import-time client, and
    words a template's notice without loading the performers (``keyactions.facts``)."""
    meta = loaded_after_import("meta_webhook")
    assert "wabaguard.whatsapp.inbound" in meta  # the check is real
    assert [m for m in ("wabaguard.people.onboarding", "wabaguard.people.invites") if m in meta] == []
    notifier = loaded_after_import("change_notifier")
    assert "wabaguard.notices.progress" in notifier
    assert not _has(notifier, "aws_lambda_powertools.utilities.idempotency")
    assert "wabaguard.keyactions.facts" in notifier
    assert [m for m in ("wabaguard.keyactions.content", "wabaguard.queries") if m in notifier] == []


# Run in the function's directory after ``import app``: every model class's table connection, a
# transaction and the hand-made DynamoDB and Secrets Manager clients, counting the botocore
# clients made on the way.
EVERY_CLIENT = """
import json
import botocore.session
made = []
create = botocore.session.Session.create_client
def counting(self, service, *args, **kwargs):
    made.append([id(self), service])
    return create(self, service, *args, **kwargs)
botocore.session.Session.create_client = counting
import app
from pynamodb.models import Model
from wabaguard import aws
from wabaguard.models import every_model, transaction
def below(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from below(sub)
models = every_model()
assert set(models) == {m for m in below(Model) if getattr(getattr(m, "Meta", None), "table_name", None)}
clients = [m._get_connection().connection.client for m in models]
clients.append(transaction()._connection.client)
clients.append(aws.client("dynamodb"))
aws._secrets()
print(json.dumps({"made": made, "models": len(models), "distinct": len({id(c) for c in clients})}))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_makes_one_client_per_service_however_many_models_it_touches(function: str) -> None:
    """PynamoDB makes a botocore session and client per model class (~40 ms each on a cold start:
    2 s for the layer's 41 classes), Powertools Parameters one per provider; the layer gives them
    the container's one client per service (``models.base.shared_client``, ``aws.secret``)."""
    seen = json.loads(printed_in(function, EVERY_CLIENT))
    assert seen["models"] > 30  # the check is real: every model class of the layer was touched
    assert seen["distinct"] == 1
    services = [service for _, service in seen["made"]]
    assert sorted(services) == ["dynamodb", "secretsmanager"]
    assert len({session for session, _ in seen["made"]}) == 1


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_imports_without_the_collector_and_freezes_what_it_built(function: str) -> None:
    """``wabaguard.coldstart`` first (the rest of the import runs without the cyclic collector),
    ``coldstart.imported("dynamodb")`` last (its client made in init, what the import built
    frozen, the collector back on)."""
    source = Path(ROOT, "functions", function, "app.py").read_text()
    body = [line for line in source.splitlines() if line and not line.startswith((" ", "#", ")", '"'))]
    imports = [line for line in body if line.startswith(("import ", "from ")) and "__future__" not in line]
    assert imports[0] == "from wabaguard import coldstart"
    assert body[-1].startswith('coldstart.imported("dynamodb")')
    enabled, frozen = printed_in(function, "import gc, app; print(gc.isenabled(), gc.get_freeze_count())").split()
    assert enabled == "True"
    assert int(frozen) > 10_000  # the import's objects, never scanned again
