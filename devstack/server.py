"""``make dev``: moto underneath, the template's resources, the API on 127.0.0.1:PORT, the stream
pump, the schedules and the demo seed. Handlers run unchanged: boto3 finds moto through
``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import faulthandler
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from devstack.cfn import ROOT, Stack

LOCAL_DIR = Path(os.environ.get("WABAGUARD_LOCAL_DIR") or ROOT / ".local")
MAX_LOCAL_BODY = 5 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_environment(endpoint: str | None, region: str) -> dict[str, str]:
    """Environment every local process (and test) shares: fake credentials, moto endpoint."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
        # moto routes DynamoDB Streams only on the classic endpoint, not the account-id based one.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        # The demo's people live at example ``.test`` domains, which real deployments refuse.
        "WABAGUARD_ALLOW_TEST_EMAIL_DOMAINS": "1",
        # Every retry schedule compressed: an hour of backoff becomes ~7 seconds.
        "RETRY_DELAY_SCALE": os.environ.get("RETRY_DELAY_SCALE", "0.002"),
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def rate_seconds(expression: str) -> float:
    m = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not m:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
    return int(m.group(1)) * unit


class World:
    """Everything but the HTTP listener: used by ``make dev`` and by integration tests."""

    def __init__(self, stack: Stack, enforce_roles: bool = True) -> None:
        from devstack import moto_fixes
        from devstack.resources import create_all

        moto_fixes.install()
        self.stack = stack
        create_all(stack)
        os.environ.update(stack.environment())
        from wabaguard.aws import reset_clients
        from wabaguard.config import settings
        from wabaguard.models import reset_transactions

        settings.cache_clear()
        reset_clients()
        reset_transactions()

        from devstack.gateway import Gateway
        from devstack.runtime import Functions
        from devstack.streams import StreamPump

        self.functions = Functions(stack, enforce_roles)
        from devstack.lambdas import install as install_lambda_invoke

        install_lambda_invoke(stack, self.functions)
        self.gateway = Gateway(stack, self.functions)
        self.pump = StreamPump(stack, self.functions)
        from devstack.mail_events import MailEvents

        self.mail_events = MailEvents(stack, self.functions)  # SES's events of every email (moto has none)
        self.pump.after_round = self.mail_events.pump
        from devstack.queues import QueuePump

        self.queues = QueuePump(stack, self.functions, float(os.environ.get("RETRY_DELAY_SCALE") or 1))
        from wabaguard.security import new_token, token_digest

        self.ops_token = new_token("wgo")
        os.environ["WABAGUARD_LOCAL_OPS_TOKEN_SHA256"] = token_digest(self.ops_token)
        self._start_graph()
        from devstack.eventbus import EventBus

        self.eventbus = EventBus(stack.region)
        # Meta's app secret and the callback's verify token, as the provider stores them after deploying
        self.meta = {"app_secret": secrets.token_hex(16), "verify_token": secrets.token_urlsafe(16)}
        self._put_secret("META_APP_SECRET_ID", self.meta)
        self.schedules = [
            (spec.logical_id, rate_seconds(event["Properties"]["ScheduleExpression"]), event["Properties"].get("Input"))
            for spec in self.functions.specs.values()
            for event in spec.events.values()
            if event["Type"] in ("ScheduleV2", "Schedule")
        ]

    def _start_graph(self) -> None:
        """Meta's Graph API for the functions: the stand-in (its own port), or the one named by
        ``WABAGUARD_GRAPH_URL``; the system-user token goes where the template keeps it."""
        from devstack.graph import GraphStandIn, serve

        token = "EAAG" + secrets.token_hex(24)
        self.graph = GraphStandIn(token, timeout_s=float(os.environ.get("GRAPH_TIMEOUT_S") or 10) + 0.5)
        other = os.environ.get("WABAGUARD_GRAPH_URL")
        if other:
            self.graph_url = other.rstrip("/")
            token = os.environ.get("WABAGUARD_GRAPH_TOKEN", token)
        else:
            self.graph_httpd, self.graph_url = serve(self.graph)
        os.environ["GRAPH_API_BASE_URL"] = self.graph_url
        self._put_secret("GRAPH_TOKEN_SECRET_ID", {"token": token})

    def _put_secret(self, env_name: str, value: dict[str, str]) -> None:
        import boto3

        boto3.client("secretsmanager", region_name=self.stack.region).put_secret_value(
            SecretId=os.environ[env_name], SecretString=json.dumps(value)
        )

    def tick(self) -> dict[str, Any]:
        """Every scheduled function once, now (``POST /_local/tick``)."""
        out: dict[str, Any] = {name: self.run_schedule(name) for name in self.scheduled_functions()}
        # the WABA watch over every watched WABA at once: locally the whole period is one tick
        out["WabaWatchFunction"] = self.functions.invoke("WabaWatchFunction", {"whole_period": True})
        out["queues"] = {"delivered": self.queues.pump()}  # what producers queued, drained now
        return out

    def scheduled_functions(self) -> list[str]:
        return [name for name, _, _ in self.schedules]

    def drain_scan(self, runs: int = 200) -> list[Any]:
        """Run the scheduled scan now, again and again (here, without fan-out) until it has caught
        up with every record that arrived; returns every flag raised on the way."""
        flags: list[Any] = []
        for name in [n for n in self.scheduled_functions() if n == "RiskScanFunction"]:
            for _ in range(runs):
                out = self.functions.invoke(name, {"fan_out": False}) or {}
                flags.extend(out.get("flags", []))
                if out.get("skipped"):  # the background schedule holds a shard's lease: wait for it
                    time.sleep(0.2)
                    continue
                if not out.get("behind"):
                    break
        return flags

    def run_schedule(self, logical_id: str) -> Any:
        payload = next((inp for name, _, inp in self.schedules if name == logical_id), None)
        event = json.loads(payload) if isinstance(payload, str) else (payload or {})
        return self.functions.invoke(logical_id, event)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def parameter_overrides(text: str) -> dict[str, str]:
    """``Name=Value Name2=Value2`` (as ``sam deploy --parameter-overrides`` takes them)."""
    out: dict[str, str] = {}
    for pair in text.split():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"WABAGUARD_PARAMETERS: {pair!r} is not Name=Value")
        out[name] = value
    return out


def public_base_url(port: int) -> str:
    """Where the local stack's pages (and passkeys' origin) live: ``localhost``, not the loopback
    IP, which cannot be a WebAuthn relying party; both reach the same server."""
    return f"http://localhost:{port}"


def loopback_host(value: str | None) -> bool:
    """Whether a Host header names this machine's loopback (``127.0.0.1:3000``, ``localhost``,
    ``[::1]:3000``), the only names a local tool uses."""
    if not value:
        return False
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LocalServer:
    def __init__(self, port: int, region: str = "us-east-1") -> None:
        from moto.server import ThreadedMotoServer

        from devstack import moto_fixes

        moto_fixes.cache_dispatch()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.port = port
        self.region = region
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        self.moto.start()
        host, moto_port = self.moto.get_host_and_port()
        os.environ.update(local_environment(f"http://{host}:{moto_port}", region))
        # Links in emails point at this local stack instead of the production host, by the name
        # ``localhost``: passkeys need a secure context and an RP id that is no IP address (§Local).
        # Other template parameters can be overridden like ``sam deploy --parameter-overrides`` does.
        overrides = parameter_overrides(os.environ.get("WABAGUARD_PARAMETERS", ""))
        parameters = {**overrides, "PublicBaseUrl": public_base_url(port)}
        if os.environ.get("PARTNER_CHANGE_COOLING_OFF_S"):  # §Local: a shorter cooling-off to watch it end
            parameters["PartnerChangeCoolingOffSeconds"] = os.environ["PARTNER_CHANGE_COOLING_OFF_S"]
        self.world = World(Stack(region=region, parameters=parameters))
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.httpd.daemon_threads = True

    # ------------------------------------------------------------ local routes
    def local_route(self, method: str, path: str, body: bytes, query: str = "") -> tuple[int, Any]:
        from devstack.outbox import outbox

        if method == "GET" and path == "/_local/health":
            return 200, {"status": "ok"}
        if method == "GET" and path == "/_local/outbox":
            return 200, outbox(self.region)
        if method == "POST" and path == "/_local/activity":
            from wabaguard.errors import WabaguardError
            from wabaguard.ingest import ingest

            try:
                records = json.loads(body or b"null")
                return 200, ingest(records)
            except json.JSONDecodeError:
                return 400, {"error": "invalid_request", "detail": "body: is not valid JSON", "field": "body"}
            except WabaguardError as exc:
                return exc.status, exc.body()
        if method == "POST" and path == "/_local/replay-dlq":
            from tools.replay_dlq import replay

            queue = self.world.stack.physical["NotifierFailureQueue"]
            return 200, replay(
                queue, lambda event: self.world.functions.invoke("ChangeNotifierFunction", event), self.region
            )
        if method == "GET" and path == "/_local/mail-events":
            return 200, self.world.mail_events.events()
        if method == "GET" and path == "/_local/eventbridge":
            return 200, self.world.eventbus.events()
        if method == "POST" and path == "/_local/risk-scan":
            return 200, self.world.drain_scan()
        if method == "POST" and path == "/_local/tick":
            return 200, _jsonable(self.world.tick())
        if path == "/_local/graph/state":
            if method == "GET":
                waba = parse_qs(query).get("waba_id", [""])[0]
                if not waba:
                    return 400, {"error": "invalid_request", "detail": "waba_id: is required", "field": "waba_id"}
                return self.world.graph.state(waba)
            if method == "POST":
                try:
                    return self.world.graph.change_state(json.loads(body or b"null"))
                except json.JSONDecodeError:
                    return 400, {"error": "invalid_request", "detail": "body: is not valid JSON", "field": "body"}
        if method == "POST" and path == "/_local/graph/wabas":  # a WABA Meta holds (a business signed up)
            try:
                spec = json.loads(body or b"null")
            except json.JSONDecodeError:
                return 400, {"error": "invalid_request", "detail": "body: is not valid JSON", "field": "body"}
            return self.world.graph.provision_request(spec)
        if method == "GET" and path == "/_local/graph/calls":
            return 200, self.world.graph.recorded()
        if method == "POST" and path == "/_local/graph/faults":
            try:
                return self.world.graph.add_fault(json.loads(body or b"null"))
            except json.JSONDecodeError:
                return 400, {"error": "invalid_request", "detail": "body: is not valid JSON", "field": "body"}
        if method == "DELETE" and path == "/_local/graph/faults":
            self.world.graph.reset()
            return 200, {"faults": 0}
        if method == "GET" and path == "/_local/flags":
            from wabaguard.models import Flag

            return 200, [
                {
                    "flag_id": f.flag_id,
                    "account_id": f.account_id,
                    "rule": f.rule,
                    "severity": f.severity,
                    "status": f.status,
                    "explanation": f.explanation,
                }
                for f in Flag.scan()  # polymorphic: flags only
            ]
        return 404, {"error": "not_found", "detail": "no such local route"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "wabaguard-local"
            # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for
            # the client's delayed ACK of the headers (~40 ms on Linux) on every keep-alive request
            # after the first few. API Gateway answers without that stall; so does the stand-in.
            disable_nagle_algorithm = True

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet; one line per request
                sys.stderr.write(f"{self.command} {self.path.split('?')[0]} -> {args[1] if len(args) > 1 else ''}\n")

            def _body(self) -> bytes | None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_LOCAL_BODY * 4:
                    return None
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _dispatch(self) -> None:
                from devstack.gateway import HttpRequest

                body = self._body()
                if body is None:
                    resp = server.world.gateway.gateway_response("REQUEST_TOO_LARGE", "local")
                    self.close_connection = True
                    self._send(resp.status, resp.headers, resp.body)
                    return
                path = self.path.split("?", 1)[0]
                if path.startswith("/_local/"):
                    if not loopback_host(self.headers.get("Host")):
                        # DNS rebinding: a web page whose name now points at 127.0.0.1 must not
                        # read the outbox (codes) or drive the stack; its Host header gives it away.
                        out = {"error": "forbidden", "detail": "local routes answer only to a loopback Host header"}
                        self._send(403, {"Content-Type": "application/json"}, json.dumps(out).encode())
                        return
                    try:
                        query = self.path.split("?", 1)[1] if "?" in self.path else ""
                        status, out = server.local_route(self.command, path, body, query)
                    except Exception as exc:  # noqa: BLE001 - a local tool gets a JSON answer, never a cut connection
                        traceback.print_exc()
                        status, out = 500, {"error": "internal_error", "detail": type(exc).__name__}
                    self._send(status, {"Content-Type": "application/json"}, json.dumps(out).encode())
                    return
                resp = server.world.gateway.handle(
                    HttpRequest(
                        method=self.command,
                        target=self.path,
                        headers=list(self.headers.items()),
                        body=body,
                        source_ip=self.client_address[0],
                    )
                )
                self._send(resp.status, resp.headers, resp.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):  # any other method goes to the gateway too (404 JSON, never 501)
                    return self._dispatch
                raise AttributeError(name)

        return Handler

    # ------------------------------------------------------------ lifecycle
    def _scheduler(self, logical_id: str, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.world.run_schedule(logical_id)
            except Exception:  # noqa: BLE001 - a failed run is printed; the next one comes
                traceback.print_exc()

    def start(self) -> dict[str, Any]:
        from devstack.seed import seed_demo

        api = f"http://127.0.0.1:{self.port}/{self.world.stack.stage()}"
        (LOCAL_DIR / "demo.json").unlink(missing_ok=True)  # every start is a fresh world
        demo = seed_demo(api, graph=self.world.graph)
        demo["meta"] = {
            **self.world.meta,
            "callback": f"{api}/meta/webhook",
            "note": "sign POST bodies with X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>",
        }
        demo["graph"] = {
            "url": self.world.graph_url,
            "version": os.environ.get("GRAPH_API_VERSION", "v23.0"),
            "note": "Meta's Graph API stand-in (or WABAGUARD_GRAPH_URL); calls: GET /_local/graph/calls",
        }
        demo["aws"] = {
            "endpoint_url": os.environ["AWS_ENDPOINT_URL"],
            "region": self.region,
            "activity_ingest_queue": self.world.stack.physical["ActivityIngestQueue"],
            "note": "moto: any AWS SDK or CLI with --endpoint-url and the fake credentials 'testing'",
        }
        demo["public_base_url"] = public_base_url(self.port)
        demo["ops"] = {
            "token": self.world.ops_token,
            "note": "stands in for IAM (SigV4) on /v1/ops/* routes; Authorization: Bearer <token>",
        }
        LOCAL_DIR.mkdir(exist_ok=True)
        (LOCAL_DIR / "demo.json").write_text(json.dumps(demo, indent=2) + "\n")
        self.world.pump.start()
        self.world.queues.start()
        for name, every, _ in self.world.schedules:
            if every <= 60:  # retry sweeps: locally every few seconds, like the compressed backoff
                every = float(os.environ.get("WABAGUARD_LOCAL_SWEEP_S") or 2)
            threading.Thread(target=self._scheduler, args=(name, every), daemon=True, name=f"schedule-{name}").start()
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="http").start()
        return demo

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.world.pump.stop()
        self.world.queues.stop()
        self.moto.stop()


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    region = os.environ.get("WABAGUARD_LOCAL_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    try:
        server = LocalServer(port, region)
    except OSError as exc:
        print(
            f"wabaguard local stack cannot listen on 127.0.0.1:{port}: {exc.strerror}; set PORT to another port",
            file=sys.stderr,
        )
        return 1
    demo = server.start()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        # a stop that hangs says where: every thread's stack after 40 s (then it exits)
        faulthandler.dump_traceback_later(40, exit=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"wabaguard local stack ready on http://127.0.0.1:{port}", flush=True)
    print(f"  demo world written to {LOCAL_DIR / 'demo.json'}", flush=True)
    for account in [demo["partner"], *demo["accounts"]]:
        for user in account["users"]:
            print(f"  {account['name']:<20} {user['role']:<7} {user['email']:<22} {user['token']}", flush=True)
    print(f"  {'ops (stands in for IAM)':<51} {demo['ops']['token']}", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    print("wabaguard local stack stopping", flush=True)
    server.stop()
    time.sleep(0.1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
