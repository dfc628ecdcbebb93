"""A stand-in for Meta's Graph API: the calls wabaguard makes, validated and answered like Meta.

Answers and errors have Meta's shapes (``{"error": {"message", "type", "code", "error_subcode",
"error_user_title", "error_user_msg", "is_transient", "fbtrace_id"}}``), with Meta's status codes:
400 for a refused parameter, 401 for a bad token, 500 for a temporary fault. Every call is recorded
(``GET /_local/graph/calls``; a webhook's verify token only as its SHA-256) and faults can be queued
(``POST /_local/graph/faults``), e.g. ``{"kind": "transient", "times": 2}`` or ``{"kind":
"lost_answer", "path_contains": "message_templates"}`` (the change is made, the answer never comes);
a fault applies to POSTs unless it names ``"method"`` (``GET`` for the WABA watch's reads, ``ANY``).

Written from Meta's documentation, apart from wabaguard's own checks, so that it catches our
mistakes instead of repeating them.
"""

from __future__ import annotations

import base64
import copy
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
STATE_OPS = {
    "subscribe_app": ("app_id",),
    "unsubscribe_app": ("app_id",),
    "set_phone_webhook": ("meta_phone_number_id",),
    "add_assigned_user": ("id", "name"),
    "remove_assigned_user": ("id",),
    "add_phone_number": ("id", "display_phone_number"),
    "create_template": ("name", "language", "category"),
    # Meta's own moves (not drift): a template's review, a number's quality or status
    "set_template_status": ("name", "language", "status"),
    "set_phone_quality": ("meta_phone_number_id", "quality_rating"),
    "set_phone_status": ("meta_phone_number_id", "status"),
}
APP_CALLBACK = "https://bsp.example/meta/webhook"  # the provider app's own callback, as Meta reports it
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


def _no_object(method: str, obj: str) -> tuple[int, dict[str, Any]]:
    return meta_error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{obj}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.",
        subcode=33,
    )


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
        # §WABA watch: what Meta knows of each WABA besides its templates (``provision`` adds one)
        self.wabas: dict[str, dict[str, Any]] = {}
        self.phones: dict[str, dict[str, Any]] = {}  # Meta's phone id → its fields
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
        method = str(spec.get("method") or "POST").upper()
        if method not in ("GET", "POST", "DELETE", "ANY"):
            return 400, {"error": "invalid_request", "detail": "method: must be GET, POST, DELETE or ANY"}
        # POST by default: the calls that change something at Meta (the WABA watch's reads are GETs, and
        # must not take a fault queued for an approved change)
        fault = {
            "kind": spec["kind"],
            "times": times,
            "path_contains": str(spec.get("path_contains") or ""),
            "method": method,
        }
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

    def _take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault["path_contains"] in path and fault["method"] in (method, "ANY"):
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
        fault = self._take_fault(method, path)
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
            items = [{k: t[k] for k in ("id", "name", "language", "status", "category")} for t in found]
            return 200, _page(items, query)
        if method == "GET" and rest in (["subscribed_apps"], ["phone_numbers"], ["assigned_users"]):
            return self._read_waba(obj, rest[0], query)
        if rest == [] and method == "GET" and "webhook_configuration" in query.get("fields", ""):
            return self._read_phone_webhook(obj)
        if rest == ["whatsapp_business_profile"] and method == "POST":
            return self._update_profile(obj, body)
        if rest == ["whatsapp_business_profile"] and method == "GET":
            return 200, {"data": [{"messaging_product": "whatsapp", **self.profiles.get(obj, {})}]}
        if rest == [] and method == "POST":
            return self._phone_settings(obj, body)
        return meta_error(400, 100, f"Unsupported {method.lower()} request.", subcode=33)

    # ------------------------------------------------------------ §WABA watch: Meta's state
    def provision(
        self,
        waba_id: str,
        phones: list[dict[str, str]],
        app_id: str | None = None,
        app_name: str = "wabaguard BSP app",
        users: list[dict[str, Any]] | None = None,
    ) -> None:
        """A WABA as Meta holds it when the provider onboards it: its numbers, the provider's app
        subscribed, the provider's system user with access."""
        with self.lock:
            waba = self.wabas.setdefault(waba_id, {"apps": {}, "phones": [], "users": {}})
            if app_id:
                waba["apps"][app_id] = {"name": app_name, "override_callback_uri": None}
            for p in phones:
                if p["id"] not in waba["phones"]:
                    waba["phones"].append(p["id"])
                self.phones.setdefault(
                    p["id"],
                    {
                        "display_phone_number": p["display_phone_number"],
                        "verified_name": p.get("verified_name") or "Business",
                        "status": "LINKED",  # Meta's OpenAPI enum (its prose says CONNECTED)
                        "name_status": "APPROVED",
                        "quality_rating": "GREEN",
                        "code_verification_status": "VERIFIED",
                    },
                )
            for u in users or []:
                waba["users"][u["id"]] = {k: u[k] for k in ("name", "user_type", "tasks") if k in u}
            self.templates.setdefault(waba_id, [])

    def provision_request(self, spec: Any) -> tuple[int, dict[str, Any]]:
        """``POST /_local/graph/wabas``: ``{waba_id, phones: [{id, display_phone_number}], app_id?}``."""
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("waba_id"), str)
            or not OBJECT_ID.match(spec["waba_id"])
        ):
            return 400, {
                "error": "invalid_request",
                "detail": "waba_id: is required (Meta's numeric id)",
                "field": "waba_id",
            }
        phones = spec.get("phones", [])
        if not isinstance(phones, list) or not all(
            isinstance(p, dict) and isinstance(p.get("id"), str) and isinstance(p.get("display_phone_number"), str)
            for p in phones
        ):
            return 400, {"error": "invalid_request", "detail": "phones: a list of {id, display_phone_number}",
                         "field": "phones"}  # fmt: skip
        users = spec.get("users", [])
        if not isinstance(users, list) or not all(isinstance(u, dict) and isinstance(u.get("id"), str) for u in users):
            return 400, {"error": "invalid_request", "detail": "users: a list of {id, name, tasks}", "field": "users"}
        app_id = spec.get("app_id")
        self.provision(spec["waba_id"], phones, app_id=app_id if isinstance(app_id, str) else None, users=users)
        status, out = self.state(spec["waba_id"])
        return (201 if status == 200 else status), out

    def state(self, waba_id: str) -> tuple[int, dict[str, Any]]:
        """``GET /_local/graph/state?waba_id=…``: what Meta holds for the WABA."""
        with self.lock:
            waba = self.wabas.get(waba_id)
            if waba is None:
                return 404, {"error": "not_found", "detail": f"waba_id: the stand-in holds no WABA {waba_id}"}
            phones = {p: {**self.phones[p], "webhook": (self.webhooks.get(p) or {}).get("override_callback_uri")}
                      for p in waba["phones"]}  # fmt: skip
            templates = [{k: t[k] for k in ("name", "language", "category", "status")} for t in self.templates[waba_id]]
            return 200, copy.deepcopy(
                {
                    "waba_id": waba_id,
                    "apps": waba["apps"],
                    "phones": phones,
                    "users": waba["users"],
                    "templates": templates,
                }
            )

    def change_state(self, spec: Any) -> tuple[int, dict[str, Any]]:
        """``POST /_local/graph/state``: a change made at Meta directly, as someone with access to
        the business would (Business Manager, WhatsApp Manager or their own Graph calls)."""
        if not isinstance(spec, dict):
            return 400, {"error": "invalid_request", "detail": "body: must be a JSON object", "field": "body"}
        waba_id, op = spec.get("waba_id"), spec.get("op")
        if op not in STATE_OPS:
            return 400, {
                "error": "invalid_request",
                "detail": f"op: must be one of {', '.join(STATE_OPS)}",
                "field": "op",
            }
        if not isinstance(waba_id, str) or waba_id not in self.wabas:
            return 400, {
                "error": "invalid_request",
                "detail": "waba_id: no such WABA at the stand-in",
                "field": "waba_id",
            }
        for name in STATE_OPS[op]:
            if not isinstance(spec.get(name), str) or not spec[name]:
                return 400, {"error": "invalid_request", "detail": f"{name}: is required (a string)", "field": name}
        with self.lock:
            waba = self.wabas[waba_id]
            phone = str(spec.get("meta_phone_number_id") or "")
            if "meta_phone_number_id" in STATE_OPS[op] and phone not in waba["phones"]:
                return 400, {"error": "invalid_request", "detail": "meta_phone_number_id: not a number of this WABA",
                             "field": "meta_phone_number_id"}  # fmt: skip
            if op == "subscribe_app":
                waba["apps"][spec["app_id"]] = {
                    "name": str(spec.get("name") or f"App {spec['app_id']}"),
                    "override_callback_uri": spec.get("override_callback_uri"),
                }
            elif op == "unsubscribe_app":
                waba["apps"].pop(spec["app_id"], None)
            elif op == "set_phone_webhook":
                uri = spec.get("override_callback_uri")
                if uri:
                    self.webhooks[phone] = {"override_callback_uri": uri, "verify_token": None}
                else:
                    self.webhooks.pop(phone, None)
            elif op == "add_assigned_user":
                tasks: list[Any] = spec["tasks"] if isinstance(spec.get("tasks"), list) else ["MANAGE"]
                waba["users"][spec["id"]] = {
                    "name": spec["name"],
                    "user_type": str(spec.get("user_type") or "BUSINESS_USER"),
                    "tasks": [str(t) for t in tasks],
                }
            elif op == "remove_assigned_user":
                waba["users"].pop(spec["id"], None)
            elif op == "add_phone_number":
                waba["phones"].append(spec["id"])
                self.phones[spec["id"]] = {
                    "display_phone_number": spec["display_phone_number"],
                    "verified_name": str(spec.get("verified_name") or "New number"),
                    "status": "PENDING",
                    "name_status": "PENDING_REVIEW",
                    "quality_rating": "NA",
                    "code_verification_status": "UNVERIFIED",
                }
            elif op == "create_template":
                self.templates.setdefault(waba_id, []).append(
                    {
                        "id": str(10**15 + secrets.randbelow(9 * 10**15)),
                        "name": spec["name"],
                        "language": spec["language"],
                        "category": spec["category"],
                        "status": "PENDING",
                        "components": [{"type": "BODY", "text": "made at Meta"}],
                    }
                )
            elif op == "set_template_status":
                for t in self.templates.get(waba_id, []):
                    if t["name"] == spec["name"] and t["language"] == spec["language"]:
                        t["status"] = spec["status"]
            elif op == "set_phone_quality":
                self.phones[phone]["quality_rating"] = spec["quality_rating"]
            elif op == "set_phone_status":
                self.phones[phone]["status"] = spec["status"]
        return self.state(waba_id)

    def _read_waba(self, waba_id: str, edge: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            waba = copy.deepcopy(self.wabas.get(waba_id))
            phones = {p: dict(self.phones[p]) for p in (waba or {}).get("phones", [])}
        if waba is None:
            return _no_object("get", waba_id)
        if edge == "subscribed_apps":
            items = []
            for app_id, app in waba["apps"].items():
                item: dict[str, Any] = {
                    "whatsapp_business_api_data": {
                        "id": app_id,
                        "link": f"https://www.facebook.com/games/?app_id={app_id}",
                        "name": app["name"],
                    }
                }
                if app.get("override_callback_uri"):
                    item["override_callback_uri"] = app["override_callback_uri"]
                items.append(item)
            return 200, {"data": items}
        if edge == "phone_numbers":
            fields = [f for f in (query.get("fields") or "id,display_phone_number,verified_name").split(",") if f]
            rows = [{k: v for k, v in {"id": p, **phones[p]}.items() if k in fields} for p in waba["phones"]]
            return 200, _page(rows, query)
        if not query.get("business"):  # assigned_users: Meta requires the business it is asked for
            return _invalid("The parameter business is required")
        fields = [f for f in (query.get("fields") or "id,name").split(",") if f]
        rows = [{k: v for k, v in {"id": u, **data}.items() if k in fields} for u, data in waba["users"].items()]
        return 200, _page(rows, query)

    def _read_phone_webhook(self, phone: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            known = phone in self.phones
            hook = dict(self.webhooks.get(phone) or {})
        if not known:
            return _no_object("get", phone)
        config: dict[str, Any] = {"application": APP_CALLBACK}
        if hook.get("override_callback_uri"):
            config["phone_number"] = hook["override_callback_uri"]
        return 200, {"webhook_configuration": config, "id": phone}

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


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """One page of a Graph edge as Meta pages it: ``limit`` (25 by default), opaque ``after``
    cursors, ``paging.next`` only while there is more."""
    try:
        limit = max(1, min(int(query.get("limit") or 25), 100))
    except ValueError:
        limit = 25
    try:
        start = int(base64.urlsafe_b64decode(query["after"] + "==").decode()) if query.get("after") else 0
    except (ValueError, UnicodeDecodeError):
        start = 0
    chunk = items[start : start + limit]
    out: dict[str, Any] = {"data": chunk}
    if chunk:

        def cursor(n: int) -> str:
            return base64.urlsafe_b64encode(str(n).encode()).decode().rstrip("=")

        out["paging"] = {"cursors": {"before": cursor(start), "after": cursor(start + len(chunk))}}
        if start + len(chunk) < len(items):
            out["paging"]["next"] = f"https://graph.facebook.com/v23.0/next?after={cursor(start + len(chunk))}"
    return out


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
        disable_nagle_algorithm = True  # no delayed-ACK stall between headers and body (server.py)

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
