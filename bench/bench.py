"""``make bench``: cold import, package size, AWS calls per operation, warm latency, cost per 1M
OTP-protected key actions, risk-scan scaling and notifier throughput — each measured in one run,
reported as ratios where the machine's noise would otherwise decide.

Writes ``bench/results.json`` and prints a markdown table.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "shared"), str(ROOT), str(ROOT / "bench")]
import tests.conftest  # noqa: E402,F401  (the template's environment before the layer is imported)

# --------------------------------------------------------------------------- prices
# AWS list prices, us-east-1, as published on the AWS pricing pages on 2026-11-24.
PRICES = {
    "apigw_rest_per_million": 3.50,  # aws.amazon.com/api-gateway/pricing (first 333M REST requests)
    "lambda_per_million_requests": 0.20,  # aws.amazon.com/lambda/pricing
    "lambda_arm_per_gb_second": 0.0000133334,  # aws.amazon.com/lambda/pricing (arm64, first 6B GB-s)
    "ddb_write_request_unit_per_million": 0.625,  # aws.amazon.com/dynamodb/pricing/on-demand (since 2024-11)
    "ddb_read_request_unit_per_million": 0.125,  # aws.amazon.com/dynamodb/pricing/on-demand
    "cw_logs_ingest_per_gb": 0.50,  # aws.amazon.com/cloudwatch/pricing (standard logs)
    "xray_per_million_traces": 5.00,  # aws.amazon.com/xray/pricing (recorded traces)
    "ses_per_thousand_emails": 0.10,  # aws.amazon.com/ses/pricing (outbound email)
    "waf_per_million_requests": 0.60,  # aws.amazon.com/waf/pricing (requests the web ACL inspects)
    "ddb_storage_per_gb_month": 0.25,  # aws.amazon.com/dynamodb/pricing/on-demand (Standard table class)
    "ddb_pitr_per_gb_month": 0.20,  # aws.amazon.com/dynamodb/pricing/on-demand (continuous backups)
    "cw_logs_storage_per_gb_month": 0.03,  # aws.amazon.com/cloudwatch/pricing (archived logs)
    "scheduler_per_million_invocations": 1.00,  # aws.amazon.com/eventbridge/pricing (after 14M free)
    # What a resource costs every month whatever the traffic:
    "waf_web_acl_per_month": 5.00,  # aws.amazon.com/waf/pricing
    "waf_rule_per_month": 1.00,  # aws.amazon.com/waf/pricing (an AWS managed rule group counts as one)
    "secret_per_month": 0.40,  # aws.amazon.com/secrets-manager/pricing
    "kms_key_per_month": 1.00,  # aws.amazon.com/kms/pricing (customer managed key)
    "alarm_metric_per_month": 0.10,  # aws.amazon.com/cloudwatch/pricing (standard resolution, per metric)
    "dashboard_per_month": 3.00,  # aws.amazon.com/cloudwatch/pricing
    "custom_metric_per_month": 0.30,  # aws.amazon.com/cloudwatch/pricing (first 10k metrics)
}
# A typical in-region round trip per AWS call, client work included (modelled: moto answers in-process,
# so a call's real latency cannot be measured here). DynamoDB's single-item calls are single-digit ms.
CALL_SECONDS = {"dynamodb": 0.006, "dynamodb:TransactWriteItems": 0.015, "ses": 0.04, "secretsmanager": 0.015}
CALL_SECONDS_OTHER = 0.02
XRAY_SAMPLED = 0.05  # X-Ray default sampling rule: 1 request/s reservoir, then 5 %
MEMORY_GB = 0.5  # 512 MB, the template's Globals
ACCESS_LOG_BYTES = 260  # one API Gateway access log line (the template's format, typical values)
# Lambda bills the INIT phase since 2025-08-01; AWS's own figure is that INITs occur in under 1 % of
# invocations ("AWS Lambda standardizes billing for INIT phase", AWS Compute Blog, 2025-04).
COLD_START_SHARE = 0.01
ITEM_OVERHEAD_BYTES = 100  # DynamoDB stores 100 bytes of overhead with every item and index entry
NO_TTL_MONTHS = 12  # an item without a TTL is priced as kept for a year (it is kept for as long as the account)


# --------------------------------------------------------------------------- 1. cold import
# Every function of the template, the authorizer first (it runs before every request).
FUNCTIONS = [
    "otp_verify",
    *sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir() and p.name != "otp_verify"),
]
# A bare handler as Lambda's runtime has it: boto3 without pyOpenSSL (the venv has it, for
# py_webauthn; the layer keeps botocore from loading it, wabaguard/__init__.py), so the ratio is fair.
BARE = (
    "import sys\nsys.modules.setdefault('urllib3.contrib.pyopenssl', None)\n"
    "import boto3\nclient = boto3.client('dynamodb')\n\ndef handler(event, context):\n    return {}\n"
)


# What a person's browser sends (Chrome on macOS): the user agent is kept with the challenge, the
# change, its audit record and its security event, so its length is in the counted item sizes; a
# five-letter stand-in made them smaller than a real approval's.
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _import_seconds(directory: Path, env: dict[str, str], first_client: bool = True) -> tuple[float, float]:
    """The module's import (Lambda's init: ours make their DynamoDB client there, as the bare
    handler does — ``coldstart.imported``), and then what a first invocation could still make:
    every model class's table connection, a transaction's, the hand-made calls' client (one shared
    client since issue #26, made in init; PynamoDB alone made a session and client per model
    class), so the second figure is what the import figure might leave out."""
    code = "import time; t = time.perf_counter(); import app; a = time.perf_counter() - t\n"
    if first_client:
        code += (
            "from wabaguard import aws, models; t = time.perf_counter()\n"
            "aws.client('dynamodb'); models.transaction()._connection.client\n"
            "for m in models.every_model(): m._get_connection().connection.client\n"
            "print(a, time.perf_counter() - t)"
        )
    else:  # the bare handler, or the import alone
        code += "print(a, 0.0)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=directory, env=env, capture_output=True, text=True, check=True
    )
    imported, client = out.stdout.strip().splitlines()[-1].split()
    return float(imported), float(client)


LAMBDA_ZIP_DATE = 315532800  # 1980-01-01: the date SAM's zip gives every file (no timestamps kept)


def _as_lambda_unpacks(tree: Path) -> Path:
    """``tree`` dated as Lambda unpacks it: a timestamp-checked .pyc is stale there."""
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (LAMBDA_ZIP_DATE, LAMBDA_ZIP_DATE), follow_symlinks=False)
    return tree


def shipped_layer(into: Path) -> Path:
    """The layer as ``sam build`` makes it (layers/shared/Makefile), for this machine's platform:
    the arm64 wheels' compiled modules would not load here, the bytecode is the same."""
    subprocess.run(
        ["make", "--silent", "-C", str(ROOT / "layers" / "shared"), "build-SharedLayer", f"ARTIFACTS_DIR={into}",
         "PLATFORM=", f"PYTHON={sys.executable}"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return _as_lambda_unpacks(into / "python")


def _without_bytecode(layer: Path, into: Path) -> Path:
    """``layer`` as SAM's python3.11 builder made it until issue #26: the same sources, no bytecode."""
    shutil.copytree(layer, into, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    return _as_lambda_unpacks(into)


def _function_package(name: str, into: Path) -> Path:
    """A function's package as Lambda unpacks it: its sources (SAM ships no bytecode for them)."""
    target = into / name
    shutil.copytree(ROOT / "functions" / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return _as_lambda_unpacks(target)


def cold_imports(runs: int = 15, runs_without_bytecode: int = 5) -> dict[str, Any]:
    """Each function's import from its package and the layer as shipped, where nothing can be
    written (Lambda's /var/task and /opt are read-only), against a bare boto3 handler whose boto3
    has its bytecode (the runtime's own; the favourable case for the bare handler)."""
    from devstack.cfn import Stack

    env = {
        **os.environ,
        **Stack().environment(),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    times: dict[str, list[float]] = defaultdict(list)
    with_client: dict[str, list[float]] = defaultdict(list)
    without: dict[str, list[float]] = defaultdict(list)
    bare_times: list[float] = []  # the bare handler beside the runs without bytecode
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        layer = shipped_layer(root / "layer")
        packages = {fn: _function_package(fn, root / "functions") for fn in FUNCTIONS}
        bare = root / "bare"
        bare.mkdir()
        (bare / "app.py").write_text(BARE)
        bare_env = {**env, "PYTHONPATH": ""}
        shipped = {**env, "PYTHONPATH": str(layer)}
        sources = {**env, "PYTHONPATH": str(_without_bytecode(layer, root / "sources"))}
        for _ in range(runs):  # interleaved, so drift on a shared machine hits all alike
            times["bare_boto3_client"].append(_import_seconds(bare, bare_env, first_client=False)[0])
            for fn in FUNCTIONS:
                imported, client = _import_seconds(packages[fn], shipped)
                times[fn].append(imported)
                with_client[fn].append(imported + client)
        for _ in range(runs_without_bytecode):  # apart: these runs are slow and would load the others
            bare_times.append(_import_seconds(bare, bare_env, first_client=False)[0])
            for fn in FUNCTIONS:
                without[fn].append(_import_seconds(packages[fn], sources, first_client=False)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    first = {k: statistics.median(v) for k, v in with_client.items()}
    before = {k: statistics.median(v) for k, v in without.items()}
    return {
        "runs": runs,
        "what": "each function's package and the layer as sam build makes them (layers/shared/Makefile; this "
        "machine's wheels), dated 1980 as SAM's zip leaves them, nothing writable; the bare handler's boto3 "
        "with its bytecode",
        "median_seconds": med,
        "ratio_to_bare": {k: med[k] / med["bare_boto3_client"] for k in FUNCTIONS},
        "with_first_client": {
            "what": "the import and then the DynamoDB clients a first invocation could make: every model "
            "class's connection, a transaction's, the hand-made calls' (one shared client, made in init "
            "like the bare handler's)",
            "median_seconds": first,
            "ratio_to_bare": {k: first[k] / med["bare_boto3_client"] for k in FUNCTIONS},
        },
        "layer_without_bytecode": {
            "what": "the same, with the layer as SAM's python3.11 builder made it before issue #26: sources "
            "only, so every module is compiled at every cold start",
            "runs": runs_without_bytecode,
            "median_seconds": before,
            "ratio_to_bare": {k: before[k] / statistics.median(bare_times) for k in FUNCTIONS},
        },
    }


# --------------------------------------------------------------------------- 2. package size
def package_sizes() -> dict[str, Any]:
    tools = ROOT / ".venv-tools" / "bin" / "sam"
    build = subprocess.run(
        [str(tools), "build", "--cached", "--template-file", "template.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    if build.returncode != 0:
        return {"error": "sam build failed", "output": build.stdout[-1500:] + build.stderr[-1500:]}
    out: dict[str, int] = {}
    for directory in sorted((ROOT / ".aws-sam" / "build").iterdir()):
        if directory.is_dir():
            out[directory.name] = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return {"unzipped_bytes": out}


# --------------------------------------------------------------------------- instrumentation
class Meter:
    """Counts and times every AWS call (botocore), by function and operation, and the DynamoDB
    request units each one is billed (``bench/units.py``: from the call's items, not assumed)."""

    WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")

    def __init__(self, units: bool = True) -> None:
        self.count_units = units  # off where time is measured: sizing reads items around each write
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.units: dict[str, Any] = {}
        self.transact_items: list[int] = []
        self.aws_seconds = 0.0
        self.current = "-"
        self.raw: Any = None
        self.tables: Any = None

    def table_shapes(self, client: Any) -> Any:
        """The tables' keys and indexes (``units.Tables``), described once, around the meter."""
        from units import Tables

        if self.tables is None:
            self.tables = Tables(lambda t: self.raw(client, "DescribeTable", {"TableName": t}))
        return self.tables

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient
        from units import Units

        original = BaseClient._make_api_call
        meter = self

        def units_for(client: Any) -> Any:
            fn = meter.current
            if fn not in meter.units:

                def get(table: str, key: dict[str, Any]) -> Any:
                    return original(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get(
                        "Item"
                    )

                meter.units[fn] = Units(get, meter.table_shapes(client))
            return meter.units[fn]

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            # aws_seconds is the call as moto serves it plus the meter's own sizing reads: neither
            # is the function's time on Lambda, so a handler's own time is measured without it.
            started = time.perf_counter()
            service = client.meta.service_model.service_name
            units = units_for(client) if service == "dynamodb" and meter.count_units else None
            try:
                before = units.before(operation, params) if units else []
                try:
                    result = original(client, operation, params)
                except Exception:
                    if units and operation in self.WRITES:  # a refused conditional write is billed too
                        units.write += sum(2 if operation == "TransactWriteItems" else 1 for _ in before)
                    raise
                finally:
                    meter.calls[(meter.current, service, operation)] += 1
                if units:
                    units.after(operation, params, result, before)
                    if operation == "TransactWriteItems":
                        meter.transact_items.append(len(params["TransactItems"]))
                return result
            finally:
                meter.aws_seconds += time.perf_counter() - started

        meter.raw = original  # the bench's own look at the tables, not counted as a function's call
        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]

    def reset(self) -> None:
        self.calls.clear()
        self.units.clear()
        self.transact_items.clear()
        self.aws_seconds = 0.0

    def summary(self) -> dict[str, Any]:
        by_fn: dict[str, dict[str, int]] = defaultdict(dict)
        for (fn, service, op), n in sorted(self.calls.items()):
            by_fn[fn][f"{service}:{op}"] = n
        return {
            "calls": dict(by_fn),
            "dynamodb_calls": sum(n for (_, s, _), n in self.calls.items() if s == "dynamodb"),
            "request_units": {
                fn: {"read": u.read, "write": u.write, "index_write": u.index_write}
                for fn, u in sorted(self.units.items())
            },
            "items_per_transaction": list(self.transact_items),
        }


# --------------------------------------------------------------------------- the in-process world
@contextlib.contextmanager
def world() -> Iterator[Any]:
    saved = dict(os.environ)  # restored on the way out: a test runs this in a shared process
    try:
        with _world() as w:
            yield w
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _world() -> Iterator[Any]:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    from moto import mock_aws

    from devstack.cfn import Stack
    from devstack.server import World

    with mock_aws():
        # the benchmark issues thousands of challenges for one user: lift the per-user and
        # per-credential limits (and the per-source WAF rule); it measures the handlers, not the
        # local stack's stand-in for IAM roles
        lifted = {
            "OtpChallengesPerWindow": "100000000",
            "OtpRequestsPerCredential": "100000000",
            "WafRateLimit": "100000000",
            "WafOtpRateLimit": "100000000",
        }
        w = World(Stack(parameters=lifted), enforce_roles=False)
        # Security events are delivered by their own function (async invoke); moto is not thread-safe,
        # so here the notifier only addresses them (its PutItem is measured), nothing is sent.
        os.environ["SECURITY_WEBHOOK_FUNCTION"] = ""
        yield w


class Capture:
    """Counts bytes the handlers write to stdout (Powertools logs and EMF metrics = CloudWatch Logs)."""

    def __init__(self) -> None:
        self.bytes = 0

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            yield
        self.bytes += len(buffer.getvalue().encode())


def _tag(meter: Meter, w: Any, log: Capture) -> None:
    """Attribute calls to the function being invoked, and time each invocation: ``durations`` the
    wall time, ``own`` the function's own code — less its AWS calls (moto's emulation, not Lambda
    time) and less the functions it invoked in-process (counted as theirs)."""
    original = w.functions.invoke
    durations: dict[str, list[float]] = defaultdict(list)
    own: dict[str, list[float]] = defaultdict(list)
    frames: list[dict[str, float]] = []
    w.durations, w.own_seconds = durations, own

    def invoke(name: str, event: dict[str, Any]) -> Any:
        previous, meter.current = meter.current, name
        frame = {"aws": meter.aws_seconds, "children": 0.0, "children_aws": 0.0}
        frames.append(frame)
        started = time.perf_counter()
        try:
            with log.active():
                return original(name, event)
        finally:
            elapsed, aws = time.perf_counter() - started, meter.aws_seconds - frame["aws"]
            frames.pop()
            if frames:
                frames[-1]["children"] += elapsed
                frames[-1]["children_aws"] += aws
            durations[name].append(elapsed)
            own[name].append(elapsed - frame["children"] - (aws - frame["children_aws"]))
            meter.current = previous

    w.functions.invoke = invoke


def _code(outbox: list[dict[str, Any]], email: str) -> str:
    import re

    for mail in reversed(outbox):
        if mail["to"] == email and "code is" in mail["text"]:
            found = re.search(r"code is (\d{6})", mail["text"])
            if found:
                return found.group(1)
    raise RuntimeError("no code")


def aws_calls_and_cost() -> dict[str, Any]:
    from devstack.gateway import HttpRequest
    from devstack.outbox import outbox
    from devstack.seed import create_account, seed_demo

    meter, log = Meter(), Capture()
    with world() as w, meter.installed():
        demo = seed_demo("http://127.0.0.1/v1")
        create_account("Bench Partners", kind="partner", account_id="prt_bench")  # a target wabaguard knows
        _tag(meter, w, log)
        acme = demo["accounts"][0]
        admin = acme["users"][0]
        pn = acme["phone_numbers"][0]["phone_number_id"]

        def call(method: str, path: str, body: Any = None, otp: tuple[str, str] | None = None) -> Any:
            headers = [("Authorization", f"Bearer {admin['token']}"), ("User-Agent", USER_AGENT)]
            if otp:
                headers += [("X-OTP-Challenge", otp[0]), ("X-OTP-Code", otp[1])]
            return w.gateway.handle(HttpRequest(method, path, headers, json.dumps(body).encode() if body else b""))

        results: dict[str, Any] = {}

        def measure(name: str, fn: Callable[[], Any]) -> Any:
            meter.reset()
            out = fn()
            results[name] = meter.summary()
            return out

        measure("authorizer_bearer_only", lambda: call("GET", "/v1/me"))  # the authorizer, then GET /v1/me

        actions = {
            "create_template": (
                "POST",
                f"/v1/accounts/{acme['account_id']}/templates",
                {
                    "name": "bench",
                    "language": "en",
                    "category": "UTILITY",
                    "components": [{"type": "BODY", "text": "Ready"}],
                },
            ),
            "update_profile": ("PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "bench"}),
            "set_webhook_url": ("PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": "https://bench.example.com/"}),
            "request_partner_change": (
                "POST",
                f"/v1/accounts/{acme['account_id']}/partner-change-requests",
                {"target_partner_id": "prt_bench"},
            ),
            "create_api_key": ("POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "bench"}),
        }
        per_action: dict[str, Any] = {}
        for name, (method, path, body) in actions.items():
            w.pump.pump()
            ch = measure(
                f"challenge:{name}",
                lambda m=method, p=path, b=body: call(
                    "POST", "/v1/otp/challenges", {"method": m, "path": p, "body": b}
                ),
            )
            code = _code(outbox("us-east-1"), admin["email"])
            assert ch.status == 201, (name, ch.status, ch.body)
            challenge_id = json.loads(ch.body)["challenge_id"]
            resp = measure(
                f"key_action:{name}", lambda m=method, p=path, b=body, otp=(challenge_id, code): call(m, p, b, otp)
            )
            assert resp.status in (200, 201), resp.body
            measure(f"notify:{name}", lambda: w.pump.pump())
            per_action[name] = {
                "challenge": results[f"challenge:{name}"]["calls"],
                "action": results[f"key_action:{name}"]["calls"],
                "notifications": results[f"notify:{name}"]["calls"],
            }
        recipients = len(acme["users"])

    authz_otp = per_action["set_webhook_url"]["action"].get("OtpVerifyFunction", {})
    authz_bearer = results["authorizer_bearer_only"]["calls"]["OtpVerifyFunction"]
    ddb = lambda ops: sum(n for k, n in ops.items() if k.startswith("dynamodb:"))  # noqa: E731
    notify_calls = per_action["set_webhook_url"]["notifications"].get("ChangeNotifierFunction", {})
    return {
        "authorizer_dynamodb_calls": {"bearer_only": ddb(authz_bearer), "bearer_and_otp": ddb(authz_otp)},
        "authorizer_calls": {"bearer_only": authz_bearer, "bearer_and_otp": authz_otp},
        "per_key_action": per_action,
        "notification_calls_per_recipient": {k: v / recipients for k, v in notify_calls.items()},
    }


def key_action_counts() -> dict[str, Any]:
    """What one OTP-protected key action causes, end to end, on a fresh demo: the challenge, the
    approved webhook-URL change, its Graph call, the notices to the account's users and SES's
    events about them — every function invoked, every AWS call, its request units, the log bytes.
    The cost is computed from this; ``tests/integration/test_bench_counts.py`` reruns it against
    ``bench/results.json`` so the counts cannot drift from the code."""
    from devstack.gateway import HttpRequest
    from devstack.outbox import outbox
    from devstack.seed import seed_demo

    meter, log = Meter(), Capture()
    snapshot: dict[str, Any] = {}
    with world() as w, meter.installed():
        demo = seed_demo("http://127.0.0.1/v1")
        _tag(meter, w, log)
        acme = demo["accounts"][0]
        admin = acme["users"][0]
        pn = acme["phone_numbers"][0]["phone_number_id"]
        headers = [("Authorization", f"Bearer {admin['token']}"), ("User-Agent", USER_AGENT)]
        path = f"/v1/phone-numbers/{pn}/webhook"

        def act(url: str) -> None:
            w.pump.pump()
            if meter.count_units:  # the counted action: what it leaves stored is measured
                snapshot["before"] = _every_item(meter)
            meter.reset()
            log.bytes = 0
            for durations in [*w.durations.values(), *w.own_seconds.values()]:
                durations.clear()
            body = {"url": url}
            challenge = {"method": "PUT", "path": path, "body": body}
            ch = w.gateway.handle(HttpRequest("POST", "/v1/otp/challenges", headers, json.dumps(challenge).encode()))
            assert ch.status == 201, ch.body
            otp = [
                ("X-OTP-Challenge", json.loads(ch.body)["challenge_id"]),
                ("X-OTP-Code", _code(outbox("us-east-1"), admin["email"])),
            ]
            done = w.gateway.handle(HttpRequest("PUT", path, headers + otp, json.dumps(body).encode()))
            assert done.status == 200, done.body
            w.pump.pump()

        act("https://bench.example.com/")  # counted: the first key action on a fresh demo
        summary = meter.summary()
        counted = {
            "calls": summary["calls"],
            "invocations": {k: len(v) for k, v in sorted(w.durations.items()) if v},
            "request_units": summary["request_units"],
            "items_per_transaction": summary["items_per_transaction"],
            "log_bytes": log.bytes,
            "items_left": _items_left(meter, snapshot["before"], _every_item(meter)),
        }
        # Timed: the same key action again, warm — as a Lambda container serves its second request
        # (boto3 clients made, secrets cached), and without the meter's sizing reads.
        meter.count_units = False
        act("https://bench-2.example.com/")
        return {
            **counted,
            "handler_seconds": {k: sum(v) for k, v in sorted(w.durations.items()) if v},
            "own_seconds": {k: sum(v) for k, v in sorted(w.own_seconds.items()) if v},
        }


def _every_item(meter: Meter) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of every table by (table, key), read around the meter: the bench's own look."""
    client = _dynamodb()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for table in meter.raw(client, "ListTables", {})["TableNames"]:
        params: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = meter.raw(client, "Scan", params)
            for item in page["Items"]:
                key = meter.table_shapes(client).key_of(table, item)
                out[(table, json.dumps(key, sort_keys=True))] = item
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return out


def _logical_table(name: str) -> str:
    """``wabaguard-local-AccountsTable`` → ``AccountsTable``, the template's name for it."""
    return name.rsplit("-", 1)[-1]


def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb")


def _items_left(
    meter: Meter, before: dict[tuple[str, str], dict[str, Any]], after: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The items a key action adds and leaves behind (what it stores): their size, the lasting
    index entries each has, how long the table's TTL keeps it. The input of the storage cost.
    Items it only changes (the phone number's last change) do not grow with the number of actions
    and are not counted; ``by_due`` entries are work waiting minutes for its turn, not storage."""
    from units import item_size

    client = _dynamodb()
    tables = meter.table_shapes(client)
    ttl_of: dict[str, str | None] = {}  # table → its TTL attribute, asked once
    now = time.time()
    left = []
    for (table, key), item in after.items():
        if (table, key) in before:
            continue
        if table not in ttl_of:
            spec = meter.raw(client, "DescribeTimeToLive", {"TableName": table})["TimeToLiveDescription"]
            ttl_of[table] = spec.get("AttributeName") if spec.get("TimeToLiveStatus") == "ENABLED" else None
        ttl_attr = ttl_of[table]
        ttl = float(item[ttl_attr]["N"]) if ttl_attr and ttl_attr in item else None
        lasting = [
            i["IndexName"]
            for i in tables.described(table).get("GlobalSecondaryIndexes", [])
            if i["IndexName"] != "by_due" and all(k["AttributeName"] in item for k in i["KeySchema"])
        ]
        left.append(
            {
                "table": _logical_table(table),
                "kind": (item.get("item_type") or item.get("kind") or {"S": "-"})["S"],
                "bytes": item_size(item) + ITEM_OVERHEAD_BYTES,
                "indexes": lasting,
                "kept_days": round((ttl - now) / 86400, 1) if ttl is not None else None,
            }
        )
    # by what they are, not by their keys (random ids), so two runs compare equal
    return sorted(left, key=lambda i: (i["table"], i["kind"], i["bytes"]))


def _change_webhook(pn: str, n: int) -> None:
    """Write one webhook change (with its change record) on a phone number, as account_api does."""
    from wabaguard.models import ChangeRecord, PhoneNumber

    PhoneNumber(*PhoneNumber.key(pn)).update(
        actions=[
            PhoneNumber.webhook_url.set(f"https://h{n}.example.com/"),
            PhoneNumber.last_change.set(
                ChangeRecord(
                    change_id=f"chg_bench_{n}",
                    kind="webhook_url_set",
                    at="2026-11-24T10:00:00Z",
                    by_email="a@acme.test",
                )
            ),
        ]
    )


def _stream_event(w: Any) -> dict[str, Any]:
    """Every stream record not delivered yet, as one Lambda event (taken from the local pump)."""
    mapping = w.pump.mappings[0]
    w.pump._read(mapping)
    records = mapping.pending[:]
    mapping.pending.clear()
    return {"Records": records}


# --------------------------------------------------------------------------- 4. warm latency
def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": ordered[len(ordered) // 2] * 1000, "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}


def warm_latency(calls: int = 500) -> dict[str, Any]:
    from devstack.gateway import HttpRequest
    from devstack.seed import seed_demo

    meter = Meter(units=False)
    out: dict[str, Any] = {}
    with world() as w, meter.installed():
        demo = seed_demo("http://127.0.0.1/v1")
        acme = demo["accounts"][0]
        admin = acme["users"][0]
        pn = acme["phone_numbers"][0]["phone_number_id"]
        captured: dict[str, dict[str, Any]] = {}
        original = w.functions.invoke

        def capture(name: str, event: dict[str, Any]) -> Any:
            captured.setdefault(name, event)
            return original(name, event)

        w.functions.invoke = capture
        headers = [("Authorization", f"Bearer {admin['token']}"), ("User-Agent", USER_AGENT)]
        w.gateway.handle(HttpRequest("GET", "/v1/me", headers, b""))
        authz_event, me_event = captured.pop("OtpVerifyFunction"), captured.pop("AccountApiFunction")
        w.gateway.handle(
            HttpRequest(
                "POST",
                "/v1/otp/challenges",
                headers,
                json.dumps(
                    {"method": "PATCH", "path": f"/v1/phone-numbers/{pn}/profile", "body": {"about": "x"}}
                ).encode(),
            )
        )
        challenge_event = captured.pop("OtpChallengeFunction")
        from wabaguard.security import body_digest

        action_event = json.loads(json.dumps(me_event))
        action_event.update(
            path=f"/phone-numbers/{pn}/profile",
            resource="/phone-numbers/{phone_number_id}/profile",
            httpMethod="PATCH",
            body=json.dumps({"about": "x"}),
            pathParameters={"phone_number_id": pn},
        )
        user_id = str(action_event["requestContext"]["authorizer"]["user_id"])
        account_id = str(action_event["requestContext"]["authorizer"]["account_id"])

        def approved_action(i: int) -> dict[str, Any]:
            """A fresh approved challenge per call (the handler consumes it with the change)."""
            from wabaguard.models import Challenge, challenge_pk

            challenge_id = f"ch_bench{i:06d}"
            Challenge(
                challenge_pk(challenge_id),
                challenge_id=challenge_id,
                user_id=user_id,
                account_id=account_id,
                action="update_profile",
                method="PATCH",
                path=f"/v1/phone-numbers/{pn}/profile",
                body_sha256=body_digest({"about": "x"}),
                description="bench",
                channel="email",
                created_at=int(time.time()),
                expires_at=int(time.time()) + 600,
                attempts=0,
            ).save()
            event = json.loads(json.dumps(action_event))
            event["requestContext"]["authorizer"].update(
                otp_action="update_profile",
                otp_challenge_id=challenge_id,
                otp_body_sha256=body_digest({"about": "x"}),
                otp_code_digest="0" * 64,
            )
            return event

        w.functions.invoke = original

        def run(name: str, event_of: Callable[[int], dict[str, Any]], n: int = calls) -> None:
            times: list[float] = []
            in_aws = 0.0
            for i in range(n):
                event = event_of(i)  # building the event may call AWS too: not counted
                before = meter.aws_seconds
                started = time.perf_counter()
                with contextlib.redirect_stdout(open(os.devnull, "w")):
                    answer = w.functions.invoke(name, event)
                times.append(time.perf_counter() - started)
                if isinstance(answer, dict) and int(answer.get("statusCode", 200)) >= 400:
                    raise RuntimeError(f"{name} answered {answer.get('statusCode')}: {answer.get('body')}")
                in_aws += meter.aws_seconds - before
            total = sum(times)
            out[name] = {
                **_percentiles(times),
                "calls": n,
                "share_in_aws_calls": round(in_aws / total, 3),
                "share_in_our_code": round(1 - in_aws / total, 3),
            }

        run("OtpVerifyFunction", lambda i: authz_event)
        run("AccountApiFunction", approved_action)
        run("OtpChallengeFunction", lambda i: challenge_event)
        w.pump.pump()

        def notifier_event(i: int) -> dict[str, Any]:
            _change_webhook(pn, i)
            return _stream_event(w)

        run("ChangeNotifierFunction", notifier_event, n=min(calls, 200))
        out["ChangeNotifierFunction"]["note"] = "one record, two recipients per invocation"
    return out


# --------------------------------------------------------------------------- 5. cost
# Scheduled functions, the web ACL, secrets, alarms and metrics cost the same whatever the traffic:
# they are a month's fixed cost, not a key action's. The month's total is shown for a deployment
# approving 1M key actions a month (modelled, not measured).
ACTIONS_PER_MONTH = 1_000_000
MINUTES_PER_MONTH = 43_200
SCHEDULED_MS = 50  # a scheduled run that finds nothing to do


def schedules_per_month(resources: dict[str, Any]) -> dict[str, float]:
    """Each scheduled function's runs a month, from the template's ScheduleV2 rates."""
    import re

    out: dict[str, float] = {}
    for name, res in resources.items():
        for event in res.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "ScheduleV2":
                found = re.fullmatch(r"rate\((\d+) minutes?\)", event["Properties"]["ScheduleExpression"])
                assert found, event  # every schedule is a rate in minutes today; a cron would need reading
                out[name] = out.get(name, 0) + MINUTES_PER_MONTH / int(found.group(1))
    return out


def _call_seconds(calls: dict[str, int]) -> float:
    """The modelled time a function waits on its AWS calls (``service:Operation`` → count)."""
    total = 0.0
    for call, n in calls.items():
        service = call.split(":")[0]
        total += n * CALL_SECONDS.get(call, CALL_SECONDS.get(service, CALL_SECONDS_OTHER))
    return total


def cost(scenario: dict[str, Any], cold: dict[str, float]) -> dict[str, Any]:
    """Per 1M key actions, from what one key action caused in the moto run: the functions it
    invoked (stream consumers and mail events included), the request units of the calls they made,
    the items it left stored, the log bytes it wrote. Then what the deployment costs a month
    whatever the traffic (``bench/fixed.py``: the template's priced resources, the metrics the code
    publishes, the schedules). Lambda durations, cold starts and retention are modelled, and say so.
    ``cold`` is each function's measured cold import (seconds, by function directory)."""
    import fixed

    from devstack.cfn import Stack

    invocations = dict(scenario["invocations"])
    p = PRICES
    template = Stack().template
    resources = template["Resources"]
    apigw = 2 * p["apigw_rest_per_million"]  # the challenge request and the key action's request
    waf = 2 * p["waf_per_million_requests"]  # the web ACL inspects both
    lambda_requests = sum(invocations.values()) * p["lambda_per_million_requests"]
    # Duration (modelled): each function's own code as measured here (its calls to moto taken out)
    # plus, for every AWS call it made, a typical in-region round trip (CALL_SECONDS); 1 ms minimum.
    waits = {fn: _call_seconds(scenario["calls"].get(fn, {})) for fn in invocations}
    billed = sum(max(n / 1000, scenario["own_seconds"].get(fn, 0.0) + waits[fn]) for fn, n in invocations.items())
    lambda_duration = billed * MEMORY_GB * p["lambda_arm_per_gb_second"] * 1e6
    # INIT (modelled): the share of invocations that start a container, each billed its cold import as
    # measured here, slowed to the CPU Lambda gives 512 MB (a full vCPU comes at 1,769 MB).
    cpu_slowdown = 1.769 / MEMORY_GB
    init_seconds = {
        fn: COLD_START_SHARE * n * cold[_function_dir(resources, fn)] * cpu_slowdown for fn, n in invocations.items()
    }
    lambda_init = sum(init_seconds.values()) * MEMORY_GB * p["lambda_arm_per_gb_second"] * 1e6
    units = scenario["request_units"]
    reads = sum(u["read"] for u in units.values())
    writes = sum(u["write"] + u["index_write"] for u in units.values())
    dynamodb = reads * p["ddb_read_request_unit_per_million"] + writes * p["ddb_write_request_unit_per_million"]
    # Storage: every item the action left, for as long as its TTL keeps it (a table's PITR backs up
    # the table, not its global indexes).
    stored_gb_months = {"table": 0.0, "index": 0.0}
    for item in scenario["items_left"]:
        months = item["kept_days"] / 30.4 if item["kept_days"] is not None else NO_TTL_MONTHS
        stored_gb_months["table"] += item["bytes"] / 1e9 * months
        stored_gb_months["index"] += len(item["indexes"]) * item["bytes"] / 1e9 * months
    storage = (
        stored_gb_months["table"] * (p["ddb_storage_per_gb_month"] + p["ddb_pitr_per_gb_month"])
        + stored_gb_months["index"] * p["ddb_storage_per_gb_month"]
    ) * 1e6
    log_bytes = scenario["log_bytes"] + 2 * ACCESS_LOG_BYTES
    log_months = int(template["Parameters"]["LogRetentionDays"]["Default"]) / 30.4  # the default retention
    logs = log_bytes / 1e9 * (p["cw_logs_ingest_per_gb"] + log_months * p["cw_logs_storage_per_gb_month"]) * 1e6
    xray = 2 * XRAY_SAMPLED * p["xray_per_million_traces"]
    emails = sum(n for ops in scenario["calls"].values() for k, n in ops.items() if k == "ses:SendRawEmail")
    ses = emails * p["ses_per_thousand_emails"] * 1000
    per_action = {
        "api_gateway": apigw,
        "waf": waf,
        "lambda": lambda_requests + lambda_duration + lambda_init,
        "dynamodb": dynamodb,
        "dynamodb_storage": storage,
        "other (CloudWatch Logs, X-Ray)": logs + xray,
    }
    # What runs or stands whatever the traffic, a month.
    schedules = schedules_per_month(resources)
    runs = sum(schedules.values())
    series = fixed.metric_series(sorted((ROOT / "functions").glob("*/app.py")), fixed.dimension_values())
    monthly = fixed.fixed_per_month(resources, p, series)
    per_million_runs = (
        p["lambda_per_million_requests"]
        + SCHEDULED_MS / 1000 * MEMORY_GB * p["lambda_arm_per_gb_second"] * 1e6
        + p["scheduler_per_million_invocations"]
    )
    monthly["usd"]["scheduled_functions"] = runs / 1e6 * per_million_runs
    fixed_total = sum(monthly["usd"].values())
    variable = sum(per_action.values())
    return {
        "per_million_key_actions_usd": {**{k: round(v, 2) for k, v in per_action.items()}, "ses": round(ses, 2)},
        "total_excluding_ses_usd": round(variable, 2),
        "total_including_ses_usd": round(variable + ses, 2),
        "fixed_per_month_usd": {k: round(v, 2) for k, v in monthly["usd"].items()},
        "fixed_per_month_total_usd": round(fixed_total, 2),
        "actions_per_month": ACTIONS_PER_MONTH,
        "total_a_month_excluding_ses_usd": round(variable * ACTIONS_PER_MONTH / 1e6 + fixed_total, 2),
        "dynamodb_units_by_function": units,
        "inputs": {
            "lambda_invocations": invocations,
            "scheduled_runs_per_month": schedules,
            "billed_seconds_per_action": round(billed, 4),
            "init_billed_seconds_per_action": round(sum(init_seconds.values()), 4),
            "own_seconds_per_action": {fn: round(v, 4) for fn, v in scenario["own_seconds"].items()},
            "aws_call_seconds_per_action": {fn: round(v, 4) for fn, v in waits.items()},
            "modelled_call_seconds": CALL_SECONDS,
            "dynamodb_read_units": reads,
            "dynamodb_write_units": writes,
            "items_per_transaction": scenario["items_per_transaction"],
            "items_left_per_action": len(scenario["items_left"]),
            "stored_bytes_per_action": sum(i["bytes"] for i in scenario["items_left"]),
            "stored_gb_months_per_million_actions": {k: round(v * 1e6, 2) for k, v in stored_gb_months.items()},
            "log_bytes_per_action": log_bytes,
            "emails_per_action": emails,
            "xray_sampled_share": XRAY_SAMPLED,
            "fixed_counted": monthly["counted"],
            "custom_metric_series": series,
            "prices": PRICES,
        },
        "measured": [
            "lambda_invocations: counted in the moto run, every function the key action caused",
            "dynamodb units: from each call's own items (bench/units.py), index writes included",
            "items_left: the items the action added, their sizes (+100 bytes each) and lasting index entries",
            "log_bytes_per_action: the handlers' captured stdout (logs and EMF metrics)",
            "emails_per_action: SES sends in the run",
            "fixed: the template's web ACL rules, secrets, keys, alarm metrics, dashboards; the metric "
            "names and dimensions in the functions' code, with the dimensions' values from the registries",
        ],
        "modelled": {
            "lambda_duration": "each function's own code as timed here (moto's time serving its calls taken out), "
            "plus a typical in-region round trip per AWS call it made (modelled_call_seconds), at 512 MB arm64",
            "lambda_init": f"{COLD_START_SHARE:.0%} of invocations start a container (AWS's figure), each billed "
            f"its cold import as measured here × {cpu_slowdown:.1f} (the CPU share of 512 MB)",
            "storage": f"each item for its TTL; an item without one for {NO_TTL_MONTHS} months; PITR on table data",
            "scheduled_runs": f"the template's schedules, {SCHEDULED_MS} ms each (a run that finds nothing to do)",
            "custom_metrics": "at most: every dimension value published in the month (CloudWatch prorates by "
            "the hour a series is published, so rarely seen values cost less)",
            "api_gateway": "2 REST requests per key action (challenge + action) at list price; WAF inspects both",
            "access_logs": f"{ACCESS_LOG_BYTES} bytes per request (the template's format, typical values)",
            "logs_storage": "the template's default LogRetentionDays",
            "xray": f"{XRAY_SAMPLED:.0%} of 2 requests sampled (the default rule)",
        },
    }


def _function_dir(resources: dict[str, Any], logical_id: str) -> str:
    """``AccountApiFunction`` → ``account_api``: the function's directory, from its CodeUri."""
    return str(resources[logical_id]["Properties"]["CodeUri"]).rstrip("/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- 6. scan scaling
def scan_scaling(new_records: int = 300) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    from wabaguard import clock
    from wabaguard.risk import scan

    meter = Meter(units=False)
    out: dict[str, Any] = {}
    now = {"t": datetime(2026, 11, 24, 12, 0, tzinfo=UTC)}
    real_now = clock.now
    clock.now = lambda: now["t"].timestamp()  # type: ignore[assignment]
    try:
        for factor in (1, 10):
            with world(), meter.installed():
                from wabaguard.ingest import ingest
                from wabaguard.risk import run_scan

                items = {"n": 0}
                real_query = scan.ActivityRecord.by_bucket.query

                def counting(*a: Any, rq: Any = real_query, seen: dict[str, int] = items, **k: Any) -> Any:
                    for item in rq(*a, **k):
                        seen["n"] += 1
                        yield item

                scan.ActivityRecord.by_bucket.query = counting  # type: ignore[method-assign]
                accounts = 20
                history = [
                    {
                        "account_id": f"acc_b{a}",
                        "kind": "messages_sent",
                        "phone_number_id": f"pn_b{a}",
                        "at": (now["t"] - timedelta(hours=h + 1)).strftime("%Y-%m-%dT%H:00:00Z"),
                        "count": 100,
                        "countries": {"DE": 100},
                        "record_id": f"h_{a}_{h}",
                    }
                    for a in range(accounts)
                    for h in range(15 * factor)
                ]
                for i in range(0, len(history), 1000):
                    ingest(history[i : i + 1000])
                now["t"] += timedelta(minutes=5)
                run_scan()
                now["t"] += timedelta(minutes=30)
                run_scan()
                fresh = [
                    {
                        "account_id": f"acc_b{i % accounts}",
                        "kind": "login",
                        "user_id": f"u{i}",
                        "ip": "198.51.100.1",
                        "country": "DE",
                        "at": now["t"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                    for i in range(new_records)
                ]
                ingest(fresh)
                now["t"] += timedelta(minutes=5)
                meter.reset()
                items["n"] = 0
                started = time.perf_counter()
                result = run_scan()
                seconds = time.perf_counter() - started
                scan.ActivityRecord.by_bucket.query = real_query  # type: ignore[method-assign]
                out[f"history_x{factor}"] = {
                    "history_records": len(history),
                    "records_scanned": result["records_scanned"],
                    "items_read_from_index": items["n"],
                    "dynamodb_calls": meter.summary()["dynamodb_calls"],
                    "seconds": round(seconds, 3),
                    "records_per_second": round(result["records_scanned"] / seconds, 1),
                }
    finally:
        clock.now = real_now  # type: ignore[assignment]
    one, ten = out["history_x1"], out["history_x10"]
    out["wall_time_ratio_10x_over_1x"] = round(ten["seconds"] / one["seconds"], 3)
    out["work_ratio_10x_over_1x"] = round(
        (ten["items_read_from_index"] + ten["dynamodb_calls"]) / (one["items_read_from_index"] + one["dynamodb_calls"]),
        3,
    )
    return out


# --------------------------------------------------------------------------- 6b. scan CPU and backlog drain
BSP_PHONES = 100_000  # issue 12: a BSP with 100k phone numbers
PHONES_PER_ACCOUNT = 2
RECORDS_PER_PHONE_HOUR = 2  # an hourly messages_sent and an hourly api_request aggregate
DYNAMODB_CALL_S = 0.010  # a conservative in-region round trip for GetItem / Query / PutItem
CALLS_PER_ACCOUNT = 3  # per run: the risk state (get), the users (query), the new state (put)
GSI_PARTITION_WCU = 1000  # DynamoDB's per-partition write limit (a bucket is one index partition)
GSI_PARTITION_RCU = 3000
RECORD_BYTES = 400


def scan_cpu(accounts: int = 40) -> dict[str, Any]:
    """Records per second of one scan worker's own work — event-time folding and every rule —
    in-process with the store stubbed out (the CPU limit), on a 24-hour backlog of hourly
    aggregates per account with 13 days of history already in its state."""
    from datetime import UTC, datetime, timedelta

    from wabaguard.risk.model import Rec
    from wabaguard.risk.runner import judge, rules

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    active = rules()

    def hourly(acc: str, hours: int, start: datetime) -> list[Rec]:
        out = []
        for h in range(hours):
            at = start + timedelta(hours=h)
            out.append(
                Rec(
                    f"m{acc}{h}",
                    "messages_sent",
                    at,
                    account_id=acc,
                    phone_number_id=f"pn{acc}",
                    count=300,
                    countries={"DE": 250, "AT": 50},
                )
            )
            out.append(
                Rec(
                    f"a{acc}{h}",
                    "api_request",
                    at,
                    account_id=acc,
                    phone_number_id=f"pn{acc}",
                    key_id=f"k{acc}",
                    count=200,
                    ip="198.51.100.7",
                    country="DE",
                )
            )
        return out

    first_seen = now - timedelta(days=14)
    states = {
        a: judge(
            f"acc{a}", {}, hourly(f"acc{a}", 24 * 13, first_seen), now - timedelta(days=1), first_seen, {}, active
        )[0]
        for a in range(accounts)
    }
    backlog = {a: hourly(f"acc{a}", 24, now - timedelta(days=1)) for a in range(accounts)}
    started = time.perf_counter()
    for a in range(accounts):
        judge(f"acc{a}", states[a], backlog[a], now, first_seen, {}, active)
    seconds = time.perf_counter() - started
    records = sum(len(r) for r in backlog.values())
    return {"records": records, "seconds": round(seconds, 3), "records_per_second": round(records / seconds, 1)}


def drain_arithmetic(records_per_second: float) -> dict[str, Any]:
    """From one worker's measured rate and DynamoDB's per-partition limits: how long a 24-hour
    backlog of a 100k-phone BSP takes with the default shards (one worker each, in parallel), and
    what the index accepts when records arrive."""
    from wabaguard.activity import SHARDS

    backlog = BSP_PHONES * RECORDS_PER_PHONE_HOUR * 24
    accounts = BSP_PHONES // PHONES_PER_ACCOUNT
    per_shard = backlog / SHARDS
    cpu_s = per_shard / records_per_second
    store_s = (accounts / SHARDS) * CALLS_PER_ACCOUNT * DYNAMODB_CALL_S
    read_limit = GSI_PARTITION_RCU * (8192 // RECORD_BYTES)  # eventually consistent: 8 KB per RCU
    read_s = per_shard / read_limit
    drain_s = cpu_s + store_s + read_s
    return {
        "modelled": (
            "arithmetic, not a run: the measured worker rate, with assumed constants "
            f"({DYNAMODB_CALL_S * 1000:.0f} ms per DynamoDB call, {CALLS_PER_ACCOUNT} calls per account, "
            f"{RECORD_BYTES}-byte records, DynamoDB's per-partition limits)"
        ),
        "backlog_records": backlog,
        "shards": SHARDS,
        "worker_records_per_second": records_per_second,
        "cpu_seconds_per_shard": round(cpu_s),
        "store_seconds_per_shard": round(store_s),
        "index_read_seconds_per_shard": round(read_s),
        "drain_minutes": round(drain_s / 60, 1),
        "target_minutes": 30,
        "sustained_ingest_records_per_second": GSI_PARTITION_WCU * SHARDS,
        "hourly_aggregates_per_second_for_100k_phones": round(BSP_PHONES * RECORDS_PER_PHONE_HOUR / 3600, 1),
    }


# --------------------------------------------------------------------------- 7. notifier throughput
def notifier_throughput(batch: int = 100) -> dict[str, Any]:

    from devstack.outbox import outbox
    from devstack.seed import seed_demo

    with world() as w:
        demo = seed_demo("http://127.0.0.1/v1")
        acme = demo["accounts"][0]
        pn = acme["phone_numbers"][0]["phone_number_id"]
        for i in range(batch):
            _change_webhook(pn, i)
        event = _stream_event(w)
        before = len(outbox("us-east-1"))
        started = time.perf_counter()
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            result = w.functions.invoke("ChangeNotifierFunction", event)
        seconds = time.perf_counter() - started
        sent = len(outbox("us-east-1")) - before
    return {
        "records": len(event["Records"]),
        "emails": sent,
        "seconds": round(seconds, 3),
        "emails_per_second": round(sent / seconds, 1),
        "failures": len(result["batchItemFailures"]),
    }


# --------------------------------------------------------------------------- report
def table(r: dict[str, Any]) -> str:
    ci = r["cold_import"]
    rows = ["| measure | result |", "| --- | --- |"]
    rows.append(
        f"| cold import, bare handler (boto3 + DynamoDB client), median of {ci['runs']} | "
        f"{ci['median_seconds']['bare_boto3_client'] * 1000:.0f} ms |"
    )
    unbuilt = ci["layer_without_bytecode"]["ratio_to_bare"]
    for fn in FUNCTIONS:
        rows.append(
            f"| cold import {fn} (as shipped; its DynamoDB client made in init) | "
            f"{ci['median_seconds'][fn] * 1000:.0f} ms ({ci['ratio_to_bare'][fn]:.2f}× bare); "
            f"then every model class's connection {ci['with_first_client']['ratio_to_bare'][fn]:.2f}×; "
            f"layer without bytecode {unbuilt[fn]:.2f}× |"
        )
    sizes = r["package_sizes"].get("unzipped_bytes", {})
    for name, size in sizes.items():
        rows.append(f"| package {name} (unzipped) | {size / 1e6:.2f} MB |")
    if "error" in r["package_sizes"]:
        rows.append(f"| package sizes | {r['package_sizes']['error']} |")
    a = r["aws_calls"]
    rows.append(
        f"| DynamoDB calls per authorization | bearer only {a['authorizer_dynamodb_calls']['bearer_only']}, "
        f"bearer + OTP {a['authorizer_dynamodb_calls']['bearer_and_otp']} |"
    )
    rows.append(f"| AWS calls per notification recipient | {json.dumps(a['notification_calls_per_recipient'])} |")
    for fn, lat in r["warm_latency"].items():
        rows.append(
            f"| warm {fn} (n={lat['calls']}) | p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
            f"{lat['share_in_our_code']:.0%} in our code / {lat['share_in_aws_calls']:.0%} in AWS calls (moto) |"
        )
    c, k = r["cost"], r["key_action"]
    parts = ", ".join(f"{name} ${v}" for name, v in c["per_million_key_actions_usd"].items())
    rows.append(
        f"| cost per 1M OTP-protected key actions | ${c['total_excluding_ses_usd']} without SES, "
        f"${c['total_including_ses_usd']} with SES ({parts}); Lambda durations, cold starts and retention modelled |"
    )
    monthly = ", ".join(f"{name} ${v}" for name, v in c["fixed_per_month_usd"].items())
    rows.append(
        f"| fixed cost a month, whatever the traffic | ${c['fixed_per_month_total_usd']} ({monthly}); "
        f"with {c['actions_per_month']:,} key actions a month ${c['total_a_month_excluding_ses_usd']} without SES |"
    )
    rows.append(f"| functions one key action invokes (counted) | {json.dumps(k['invocations'])} |")
    i = c["inputs"]
    rows.append(
        f"| DynamoDB units per key action (from the calls' items) | {i['dynamodb_read_units']:g} read, "
        f"{i['dynamodb_write_units']:g} write (transactions of {i['items_per_transaction']} items) |"
    )
    s = r["scan_scaling"]
    rows.append(
        f"| risk scan | {s['history_x1']['records_per_second']:.0f} records/s; 10× vs 1× history: work "
        f"{s['work_ratio_10x_over_1x']:.2f} (items and calls), wall time {s['wall_time_ratio_10x_over_1x']:.2f} |"
    )
    cpu, d = r["scan_cpu"], r["scan_drain"]
    rows.append(
        f"| risk-scan worker CPU (event-time fold + rules, store stubbed) | {cpu['records_per_second']:.0f} records/s |"
    )
    rows.append(
        f"| 24 h backlog of a 100k-phone BSP ({d['backlog_records']:,} records), {d['shards']} shards in parallel "
        f"— modelled: measured worker rate + assumed {DYNAMODB_CALL_S * 1000:.0f} ms per call | "
        f"{d['drain_minutes']} min (CPU {d['cpu_seconds_per_shard']} s + DynamoDB {d['store_seconds_per_shard']} s "
        f"+ index reads {d['index_read_seconds_per_shard']} s per shard; target ≤ {d['target_minutes']} min) |"
    )
    rows.append(
        f"| sustained ingest the index accepts — modelled: DynamoDB's partition limit | "
        f"{d['sustained_ingest_records_per_second']:,} records/s "
        f"(100k phones send {d['hourly_aggregates_per_second_for_100k_phones']}/s on average) |"
    )
    n = r["notifier_throughput"]
    rows.append(
        f"| notifier, {n['records']}-record batch | {n['emails_per_second']:.0f} emails/s ({n['emails']} emails) |"
    )
    return "\n".join(rows)


def main() -> int:
    started = time.perf_counter()
    results: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    results["cold_import"] = cold_imports()
    results["package_sizes"] = package_sizes()
    results["aws_calls"] = aws_calls_and_cost()
    results["warm_latency"] = warm_latency()
    results["key_action"] = key_action_counts()
    results["cost"] = cost(results["key_action"], results["cold_import"]["with_first_client"]["median_seconds"])
    results["scan_scaling"] = scan_scaling()
    results["scan_cpu"] = scan_cpu()
    results["scan_drain"] = drain_arithmetic(results["scan_cpu"]["records_per_second"])
    results["notifier_throughput"] = notifier_throughput()
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\n(bench took {results['bench_seconds']} s; results in bench/results.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
