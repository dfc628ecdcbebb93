"""A stand-in for Meta's Graph API: the calls wabaguard makes, validated and answered like Meta.

Answers and errors have Meta's shapes (``{"error": {"message", "type", "code", "error_subcode",
"error_user_title", "error_user_msg", "is_transient", "fbtrace_id"}}``), with Meta's status codes:
400 for a refused parameter, 401 for a bad token, 500 for a temporary fault. Every call is recorded
(``GET /_local/graph/calls``; a webhook's verify token only as its SHA-256) and faults can be queued
(``POST /_local/graph/faults``), e.g. ``{"kind": "transient", "times": 2}`` or ``{"kind":
"lost_answer", "path_contains": "message_templates"}`` (the change is made, the answer never comes).

Written from Meta's documentation, apart from wabaguard's own checks, so that it catches our
mistakes instead of repeating them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack import meta_spec

VERSION = re.compile(r"^v\d+\.\d+$")
OBJECT_ID = re.compile(r"^\d{1,32}$")
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
CATEGORIES = {"MARKETING", "UTILITY", "AUTHENTICATION"}
PROFILE_FIELDS = {
    "messaging_product",
    "about",
    "address",
    "description",
    "email",
    "vertical",
    "websites",
    "profile_picture_handle",
}
FAULT_KINDS = {"transient", "server_error", "throttle", "rate_limited", "permanent", "auth", "timeout", "lost_answer"}


def meta_error(
    status: int,
    code: int,
    message: str,
    subcode: int | None = None,
    transient: bool = False,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "is_transient": transient}
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return status, {"error": error}


def _invalid(message: str, user_msg: str | None = None) -> tuple[int, dict[str, Any]]:
    return meta_error(
        400, 100, f"(#100) {message}", user_title="Invalid parameter" if user_msg else None, user_msg=user_msg
    )


class GraphStandIn:
    """Meta's side of the calls: templates per WABA, a profile and webhook override per phone."""

    def __init__(self, token: str, timeout_s: float = 10.0) -> None:
        self.token = token
        self.timeout_s = timeout_s  # how long a "timeout" fault hangs: longer than the client waits
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.templates: dict[str, list[dict[str, Any]]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        # Meta's description is read now (about 1.5 s of YAML, once per process), not while the
        # first call waits: a client that gives up after 1 s must see Meta's answer, not our parse.
        meta_spec.request_errors("GET", "/", None)

    # ------------------------------------------------------------ control
    def add_fault(self, spec: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(spec, dict) or spec.get("kind") not in FAULT_KINDS:
            return 400, {"error": "invalid_request", "detail": f"kind: must be one of {', '.join(sorted(FAULT_KINDS))}"}
        times = spec.get("times", 1)
        if not isinstance(times, int) or not 1 <= times <= 1000:
            return 400, {"error": "invalid_request", "detail": "times: must be an integer from 1 to 1000"}
        fault = {"kind": spec["kind"], "times": times, "path_contains": str(spec.get("path_contains") or "")}
        for key in ("message", "code"):
            if key in spec:
                fault[key] = spec[key]
        with self.lock:
            self.faults.append(fault)
        return 201, {"queued": fault, "faults": len(self.faults)}

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.faults.clear()

    def recorded(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.calls]

    def _take_fault(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault["path_contains"] in path:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # ------------------------------------------------------------ calls
    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        call: dict[str, Any] = {"method": method, "path": path, "query": query, "body": _recorded_body(body)}
        call.update(at=time.time(), status=None, answer=None)
        with self.lock:
            self.calls.append(call)  # recorded as it arrives (a hung answer is still a call Meta saw)
        status, answer = self._answer(method, path, query, headers, body)
        with self.lock:
            call.update(status=status, answer=answer)
        return status, answer

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.token}":
            return meta_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2 or not VERSION.match(segments[0]):
            return meta_error(400, 2500, "Unknown path components: " + path)
        obj, rest = segments[1], segments[2:]
        if not OBJECT_ID.match(obj):
            return meta_error(
                400,
                100,
                f"Unsupported {method.lower()} request. Object with ID '{obj}' does not exist, cannot be loaded "
                "due to missing permissions, or does not support this operation.",
                subcode=33,
            )
        fault = self._take_fault(path)
        if fault is not None and fault["kind"] != "lost_answer":
            return self._fault(fault)
        if body is None:
            return _invalid("Invalid JSON in the request body.")
        answer = self._route(method, obj, rest, query, body)
        if fault is not None:  # lost_answer: Meta made the change, the answer never arrives
            time.sleep(self.timeout_s)
        return answer

    def _fault(self, fault: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        kind = fault["kind"]
        if kind == "timeout":
            time.sleep(self.timeout_s)
            return meta_error(500, 2, "(#2) Service temporarily unavailable", transient=True)
        if kind in ("transient", "server_error"):
            return meta_error(500, 2, "(#2) Service temporarily unavailable", transient=True)
        if kind == "throttle":  # Graph answers rate limits with 400 and a code, not 429
            return meta_error(400, 80007, "(#80007) Rate limit issues")
        if kind == "rate_limited":
            return meta_error(429, 130429, "(#130429) Rate limit hit")
        if kind == "auth":
            return meta_error(401, 190, "Error validating access token: Session has expired.", subcode=463)
        message = str(fault.get("message") or "Invalid parameter")
        return meta_error(
            400, int(fault.get("code") or 100), f"(#100) {message}", user_title="Invalid parameter", user_msg=message
        )

    def _route(
        self, method: str, obj: str, rest: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        if rest == ["message_templates"] and method == "POST":
            return self._create_template(obj, body)
        if rest == ["message_templates"] and method == "GET":
            found = [t for t in self.templates.get(obj, []) if not query.get("name") or t["name"] == query["name"]]
            return 200, {"data": [{k: t[k] for k in ("id", "name", "language", "status", "category")} for t in found]}
        if rest == ["whatsapp_business_profile"] and method == "POST":
            return self._update_profile(obj, body)
        if rest == ["whatsapp_business_profile"] and method == "GET":
            return 200, {"data": [{"messaging_product": "whatsapp", **self.profiles.get(obj, {})}]}
        if rest == [] and method == "POST":
            return self._phone_settings(obj, body)
        return meta_error(400, 100, f"Unsupported {method.lower()} request.", subcode=33)

    def _create_template(self, waba: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for field in ("name", "language", "category", "components"):
            if field not in body:
                return _invalid(f"The parameter {field} is required.")
        name, category, components = body["name"], body["category"], body["components"]
        if not isinstance(name, str) or not TEMPLATE_NAME.match(name):
            return _invalid(
                "Param name must contain only lowercase letters, digits and underscores.",
                "Template names may contain only lowercase letters, numbers and underscores.",
            )
        if category not in CATEGORIES:
            return _invalid("Param category must be one of {MARKETING, UTILITY, AUTHENTICATION}.")
        if not isinstance(components, list) or not any(
            isinstance(c, dict) and str(c.get("type", "")).upper() == "BODY" for c in components
        ):
            return _invalid("Param components must include a BODY component.", "The template needs a body.")
        for comp in components:
            if str(comp.get("type", "")).upper() not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
                return _invalid(f"Param components[type] {comp.get('type')!r} is not a valid component type.")
        with self.lock:
            existing = self.templates.setdefault(waba, [])
            if any(t["name"] == name and t["language"] == body["language"] for t in existing):
                return meta_error(
                    400,
                    100,
                    "Invalid parameter",
                    subcode=2388024,
                    user_title="Message template already exists",
                    user_msg="Content in this language already exists for this template. Create a new template "
                    "or use another language, then try again.",
                )
            tpl = {
                "id": str(10**15 + secrets.randbelow(9 * 10**15)),
                "name": name,
                "language": body["language"],
                "category": category,
                "status": "PENDING",
                "components": components,
            }
            existing.append(tpl)
        return 200, {"id": tpl["id"], "status": "PENDING", "category": category}

    def _update_profile(self, phone: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("messaging_product") != "whatsapp":
            return _invalid("The parameter messaging_product is required.")
        unknown = sorted(set(body) - PROFILE_FIELDS)
        if unknown:
            return _invalid(f"Param {unknown[0]} is not a valid parameter.")
        verticals = meta_spec.verticals()  # Meta's own list, not wabaguard's copy of it
        if "vertical" in body and body["vertical"] not in verticals:
            return _invalid("Param vertical must be one of {" + ", ".join(sorted(verticals)) + "}.")
        if "about" in body and not 1 <= len(str(body["about"])) <= 139:
            return _invalid("Param about must be between 1 and 139 characters.")
        if "websites" in body and (not isinstance(body["websites"], list) or len(body["websites"]) > 2):
            return _invalid("Param websites must be an array with at most 2 elements.")
        wrong = meta_spec.request_errors("POST", f"/v23.0/{phone}/whatsapp_business_profile", body)
        if wrong:  # every other rule of Meta's description (lengths, formats)
            return _invalid(f"Param {wrong[0].split(':', 1)[0]} is invalid for Meta's business profile.")
        with self.lock:
            self.profiles.setdefault(phone, {}).update({k: v for k, v in body.items() if k != "messaging_product"})
        return 200, {"success": True}

    def _phone_settings(self, phone: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        config = body.get("webhook_configuration")
        if not isinstance(config, dict) or "override_callback_uri" not in config:
            return _invalid("The parameter webhook_configuration is required.")
        uri = config["override_callback_uri"]
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://127.0.0.1")):
            return _invalid("Param webhook_configuration[override_callback_uri] must be a valid https URL.")
        with self.lock:
            self.webhooks[phone] = {"override_callback_uri": uri, "verify_token": config.get("verify_token")}
        return 200, {"success": True}


def _recorded_body(body: Any) -> Any:
    """The call as recorded: a verify token only as its digest (the stand-in's log is readable)."""
    if not isinstance(body, dict):
        return body
    out = json.loads(json.dumps(body))
    config = out.get("webhook_configuration")
    if isinstance(config, dict) and isinstance(config.get("verify_token"), str):
        config["verify_token_sha256"] = hashlib.sha256(config.pop("verify_token").encode()).hexdigest()
    return out


def serve(stand_in: GraphStandIn) -> tuple[ThreadingHTTPServer, str]:
    """Serve the stand-in on its own port (integration tests); returns the server and base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, answer = stand_in.handle(self.command, self.path, dict(self.headers.items()), raw)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout fault)
                pass

        do_GET = do_POST = do_DELETE = _any

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True, name="graph-stand-in").start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
