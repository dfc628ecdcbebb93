"""Hostile input on every route: always a 4xx with a JSON error, never a 5xx, never a stack trace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.cfn import Stack
from devstack.server import World
from tests.integration.conftest import Api


@pytest.fixture
def world(module_world: tuple[World, dict[str, Any]]) -> World:
    return module_world[0]


@pytest.fixture
def demo(module_world: tuple[World, dict[str, Any]]) -> dict[str, Any]:
    return module_world[1]


ROUTES = sorted((r.method, r.path) for r in Stack().routes())
PAYLOADS: dict[str, bytes] = {
    "malformed_json": b'{"url": ',
    "not_an_object": b'["a", 1]',
    "unknown_fields": b'{"surprise": true, "__proto__": {"admin": true}}',
    "wrong_types": json.dumps(
        {
            "url": 5,
            "email": [],
            "role": 1,
            "code": 123456,
            "name": {},
            "method": 7,
            "path": None,
            "body": "x",
            "verdict": False,
            "components": "x",
        }
    ).encode(),
    "long_strings": json.dumps(
        {
            "url": "https://" + "a" * 5000 + ".com",
            "about": "x" * 20000,
            "email": "a" * 3000 + "@x.com",
            "path": "/v1/" + "p" * 5000,
        }
    ).encode(),
    "oversized": b'{"x": "' + b"a" * 70_000 + b'"}',
    "unicode_edges": '{"about": "\\ud800 \\u0000 \u202e\u0644\u0627 \U0001f600", "name": "\u00e9t\u00e9", "url": "https://xn--e1afmkfd.xn--p1ai/\u0000"}'.encode(),
    "not_utf8": b'\xff\xfe{"a": 1}',
}


def _concrete(path: str, demo: dict[str, Any]) -> str:
    acme = demo["accounts"][0]
    return (
        path.replace("{account_id}", acme["account_id"])
        .replace("{phone_number_id}", acme["phone_numbers"][0]["phone_number_id"])
        .replace("{user_id}", acme["users"][1]["user_id"])
        .replace("{key_id}", "key_nope")
        .replace("{challenge_id}", "ch_nope")
        .replace("{flag_id}", "flg_nope")
        .replace("{token}", "wgr_nope")
    )


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_answers_hostile_input_with_a_4xx(
    api: Api, demo: dict[str, Any], world: Any, method: str, path: str, kind: str
) -> None:
    token = world.ops_token if path.startswith("/ops/") else demo["accounts"][0]["users"][0]["token"]
    resp = api.call(method, "/v1" + _concrete(path, demo), token, raw=PAYLOADS[kind])
    if method == "GET":  # a body on a GET is ignored, never a crash
        assert resp.status < 500, (resp.status, resp.body[:300])
    else:
        assert 400 <= resp.status < 500, (resp.status, resp.body[:300])
    text = resp.body.decode()
    assert "Traceback" not in text
    page = path.startswith(("/report/", "/partner-change/cancel/", "/invite/")) or (
        path.startswith("/approve/") and method == "GET"  # the approval page; its POST answers JSON
    )
    if page:  # pages behind emailed links
        assert resp.headers["Content-Type"].startswith("text/html")
    elif resp.status >= 400:
        assert json.loads(text)["error"]
    else:
        json.loads(text)


@pytest.mark.parametrize("kind", ["malformed_json", "not_utf8", "oversized"])
def test_an_approved_key_action_with_a_broken_body_is_400_and_changes_nothing(
    api: Api, demo: dict[str, Any], kind: str
) -> None:
    acme = demo["accounts"][0]
    admin = acme["users"][0]
    path = f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"
    ch = api.challenge(admin["token"], "PUT", path, {"url": "https://ok.example.com/"}).json()["challenge_id"]
    resp = api.call("PUT", path, admin["token"], raw=PAYLOADS[kind], otp=(ch, api.last_code(admin["email"])))
    assert resp.status in (400, 413) and resp.json()["error"] in ("invalid_request", "request_too_large")
    assert (
        api.call("GET", path.removesuffix("/webhook"), admin["token"]).json()["webhook_url"]
        == "https://hooks.acme.test/wa"
    )


@pytest.mark.parametrize("query", ["limit=abc", "limit=100000", "limit=-1", "cursor=%00%ff", "cursor=" + "A" * 5000])
def test_bad_query_strings_are_400(api: Api, demo: dict[str, Any], query: str) -> None:
    acme = demo["accounts"][0]
    resp = api.call("GET", f"/v1/accounts/{acme['account_id']}/security-events?{query}", acme["users"][0]["token"])
    assert resp.status == 400 and resp.json()["error"] == "invalid_request"


@pytest.mark.parametrize("ident", ["a" * 3000, "x%00y", "\u202e", "..", "a b"])
def test_odd_identifiers_in_paths_are_404(api: Api, demo: dict[str, Any], ident: str) -> None:
    token = demo["accounts"][0]["users"][0]["token"]
    for path in (f"/v1/phone-numbers/{ident}", f"/v1/accounts/{ident}/users", f"/v1/accounts/{ident}/flags"):
        resp = api.call("GET", path, token)
        assert resp.status == 404 and resp.json()["error"] == "not_found", (path, resp.body[:200])


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]
)
def test_dynamodb_busy_behind_the_api_is_503_with_retry_after_not_500(
    api: Api, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import GetError
    from wabaguard.models import PhoneNumber

    def busy(*_: Any, **__: Any) -> Any:
        raise GetError("Failed to get item", ClientError({"Error": {"Code": code, "Message": "busy"}}, "GetItem"))

    monkeypatch.setattr(PhoneNumber, "get", busy)
    acme = demo["accounts"][0]
    resp = api.call(
        "GET", f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}", acme["users"][0]["token"]
    )
    assert resp.status == 503 and resp.headers["Retry-After"] == "5"
    assert resp.json()["error"] == "temporarily_unavailable"


def test_an_unexpected_error_behind_the_api_is_a_json_500_without_details(
    api: Api, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wabaguard.models import PhoneNumber

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(PhoneNumber, "get", broken)
    acme = demo["accounts"][0]
    resp = api.call(
        "GET", f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}", acme["users"][0]["token"]
    )
    assert resp.status == 500 and resp.json()["error"] == "internal_error"
    assert "secret internals" not in resp.body.decode()
