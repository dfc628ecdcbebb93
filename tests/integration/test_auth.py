"""§Credentials through the in-process gateway: real REQUEST-authorizer events and policies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Api


def test_missing_token_is_401_json_without_invoking_anything(api: Api) -> None:
    resp = api.call("GET", "/v1/me")
    assert resp.status == 401
    assert resp.json()["error"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic abc", "bearer", "Bearer " + "x" * 600])
def test_unknown_or_malformed_tokens_are_401(api: Api, demo: dict[str, Any], header: str) -> None:
    resp = api.call("GET", "/v1/me", headers={"Authorization": header})
    assert resp.status == 401, resp.body
    assert resp.json() == {"error": "unauthorized", "detail": "a valid bearer token is required"}


def test_me_answers_who_you_are(api: Api, demo: dict[str, Any]) -> None:
    acme = demo["accounts"][0]
    member = acme["users"][1]
    resp = api.call("GET", "/v1/me", member["token"])
    assert resp.status == 200
    body = resp.json()
    assert body["user_id"] == member["user_id"] and body["role"] == "member"
    assert body["account"] == {"account_id": acme["account_id"], "name": "Acme Shoes", "kind": "client"}
    assert body["phone_numbers"][0]["display"] == "+49 30 1234567"
    assert member["token"] not in resp.body.decode()


def test_partner_me_lists_managed_accounts(api: Api, demo: dict[str, Any]) -> None:
    body = api.call("GET", "/v1/me", demo["partner"]["users"][0]["token"]).json()
    assert body["account"]["kind"] == "partner"
    assert {a["name"] for a in body["managed_accounts"]} == {"Acme Shoes", "Globex"}


def test_token_header_is_case_insensitive(api: Api, demo: dict[str, Any]) -> None:
    token = demo["accounts"][0]["users"][0]["token"]
    resp = api.call("GET", "/v1/me", headers={"authorization": f"Bearer {token}"})
    assert resp.status == 200


def test_tokens_are_stored_only_as_digests(world: Any, demo: dict[str, Any]) -> None:
    import boto3
    from wabaguard.config import settings

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    dump = str(ddb.scan(TableName=settings().credentials_table)["Items"])
    dump += str(ddb.scan(TableName=settings().accounts_table)["Items"])
    for account in [demo["partner"], *demo["accounts"]]:
        for user in account["users"]:
            assert user["token"] not in dump


def test_authorizer_context_reaches_the_handler(api: Api, demo: dict[str, Any], world: Any) -> None:
    """The handler sees the authorizer's context in requestContext.authorizer (with principalId)."""
    seen: dict[str, Any] = {}
    original = world.functions.invoke

    def spy(name: str, event: dict[str, Any]) -> Any:
        if name == "AccountApiFunction":
            seen.update(event["requestContext"]["authorizer"])
        return original(name, event)

    world.functions.invoke = spy
    user = demo["accounts"][0]["users"][0]
    assert api.call("GET", "/v1/me", user["token"]).status == 200
    assert seen["user_id"] == user["user_id"] and seen["principalId"] == user["user_id"]
    assert seen["account_id"] == demo["accounts"][0]["account_id"] and seen["role"] == "admin"


def test_unknown_route_is_404_json(api: Api, demo: dict[str, Any]) -> None:
    token = demo["accounts"][0]["users"][0]["token"]
    for path in ("/v1/nope", "/nope", "/v1/me/extra"):
        resp = api.call("GET", path, token)
        assert resp.status == 404 and resp.json()["error"] == "not_found"
