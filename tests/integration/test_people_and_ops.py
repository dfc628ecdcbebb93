"""§People and ops (issue 22): invites instead of handed-over tokens, ops recovery, and the ops
routes that find what to review — each rule tried for every role."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from devstack.server import World
from tests.integration.conftest import Api, secret_of

NEW = {"email": "new.colleague@acme.test", "role": "member"}


def _add(api: Api, admin: dict[str, Any], acme: dict[str, Any], body: dict[str, str] = NEW) -> dict[str, Any]:
    resp = api.approved(admin, "POST", f"/v1/accounts/{acme['account_id']}/users", body)
    assert resp.status == 201, resp.json()
    return dict(resp.json())


def _invite_path(api: Api, to: str) -> str:
    return "/v1/invite/" + api.invite_link(to).rsplit("/", 1)[1]


def test_adding_a_user_answers_no_token_and_emails_the_new_user_an_invite(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    out = _add(api, admin, acme)
    assert "token" not in out and out["access"] == "invited"
    assert out["invite"] == {"status": "emailed", "to": NEW["email"], "valid_for": "7 days"}
    world.pump.pump()
    to_new = [m for m in api.outbox() if m["to"] == NEW["email"]]
    assert len(to_new) == 1, "the new user gets their invite, once — not also the 'user added' notice"
    assert to_new[0]["subject"] == "[wabaguard] You were added to Acme Shoes"
    assert "admin@acme.test added you to Acme Shoes as member" in to_new[0]["text"]
    assert "wgu_" not in str(api.outbox()), "no access token in any email"
    told = [m["to"] for m in api.outbox() if "added to Acme Shoes" in m["subject"] and m["to"] != NEW["email"]]
    assert {"admin@acme.test", "member@acme.test"} <= set(told)
    users = api.call("GET", f"/v1/accounts/{acme['account_id']}/users", admin["token"]).json()["users"]
    assert {u["email"]: u["access"] for u in users}[NEW["email"]] == "invited"


def test_the_invite_page_asks_on_get_and_shows_the_token_once_on_post(
    api: Api, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    _add(api, admin, acme)
    path = _invite_path(api, NEW["email"])
    for _ in range(3):  # mail scanners fetch links: looking spends nothing
        page = api.call("GET", path)
        assert page.status == 200 and "Show my access token" in page.body.decode()
        assert "wgu_" not in page.body.decode()
    shown = api.call("POST", path)
    assert shown.status == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
    token = secret_of(shown.body.decode())
    me = api.call("GET", "/v1/me", token).json()
    assert me["email"] == NEW["email"] and me["role"] == "member"
    again = api.call("POST", path)
    assert again.status == 404 and "wgu_" not in again.body.decode(), "single use"
    assert api.call("GET", path).status == 404
    users = api.call("GET", f"/v1/accounts/{acme['account_id']}/users", admin["token"]).json()["users"]
    assert {u["email"]: u["access"] for u in users}[NEW["email"]] == "active"


def test_an_invite_dies_with_its_user_after_seven_days_and_for_garbage(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], moving: dict[str, Any]
) -> None:
    user = _add(api, admin, acme)
    path = _invite_path(api, NEW["email"])
    moving["now"] += timedelta(days=7, minutes=1)
    assert api.call("POST", path).status == 404, "older than 7 days"
    moving["now"] -= timedelta(days=7, minutes=1)
    assert api.call("GET", path).status == 200
    removed = api.approved(admin, "DELETE", f"/v1/accounts/{acme['account_id']}/users/{user['user_id']}")
    assert removed.status == 204
    assert api.call("POST", path).status == 404, "a removed user's invite is dead"
    for garbage in ("wgi_nope", "x" * 300, "%00"):
        assert api.call("GET", f"/v1/invite/{garbage}").status == 404


def test_two_clicks_at_once_make_exactly_one_token(
    api: Api, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    _add(api, admin, acme)
    path = _invite_path(api, NEW["email"])
    pages: list[str] = []
    start = threading.Barrier(4)

    def click() -> None:
        start.wait()
        resp = api.call("POST", path)
        if resp.status == 200:
            pages.append(resp.body.decode())

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pages) == 1, "one winner; the others see the invite as used"
    assert api.call("GET", "/v1/me", secret_of(pages[0])).status == 200


def test_ops_recover_a_user_who_lost_their_token(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    member = acme["users"][1]
    path = f"/v1/ops/accounts/{acme['account_id']}/users/{member['user_id']}/recover"
    resp = api.call("POST", path, world.ops_token)
    assert resp.status == 200, resp.json()
    assert resp.json()["invite"]["to"] == member["email"] and "token" not in resp.json()
    world.pump.pump()
    told = {m["to"]: m for m in api.outbox() if "Access recovery started" in m["subject"]}
    assert "admin@acme.test" in told and "ops@northwind.test" not in told
    invite = [m for m in api.outbox() if m["to"] == member["email"]]
    assert invite[-1]["subject"] == f"[wabaguard] Recover your access to {acme['name']}"
    assert api.call("GET", "/v1/me", member["token"]).status == 200, "the old token works until the invite is used"
    users = api.call("GET", f"/v1/accounts/{acme['account_id']}/users", admin["token"]).json()["users"]
    assert {u["email"]: u["access"] for u in users}[member["email"]] == "recovering"
    new = api.accept_invite(member["email"])
    assert api.call("GET", "/v1/me", member["token"]).status == 401, "the old token died with the invite's use"
    assert api.call("GET", "/v1/me", new).json()["email"] == member["email"]
    world.pump.pump()
    recovered = [m for m in api.outbox() if "Access recovered" in m["subject"]]
    assert {m["to"] for m in recovered} >= {"admin@acme.test", member["email"]}


def test_a_newer_invite_retires_the_older_one(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any]
) -> None:
    _add(api, admin, acme)
    first = _invite_path(api, NEW["email"])
    users = api.call("GET", f"/v1/accounts/{acme['account_id']}/users", admin["token"]).json()["users"]
    user_id = next(u["user_id"] for u in users if u["email"] == NEW["email"])
    recover = f"/v1/ops/accounts/{acme['account_id']}/users/{user_id}/recover"
    assert api.call("POST", recover, world.ops_token).status == 200
    second = _invite_path(api, NEW["email"])
    assert second != first
    assert api.call("POST", first).status == 404, "the welcome invite was replaced"
    assert api.call("POST", second).status == 200


def _roles(api: Api, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], pn: str) -> dict[str, str]:
    from wabaguard.people.access import load_account

    from devstack.seed import create_user

    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "crm"}).json()["api_key"]
    partner_member = create_user(load_account(demo["partner"]["partner_id"]), "member@northwind.test", "member")
    return {
        "account admin": admin["token"],
        "account member": acme["users"][1]["token"],
        "Partner admin": demo["partner"]["users"][0]["token"],
        "Partner member": partner_member["token"],
        "API key": key,
        "another tenant": demo["accounts"][1]["users"][0]["token"],
    }


def test_ops_routes_refuse_every_role_but_ops(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    member = acme["users"][1]
    routes = [
        ("GET", "/v1/ops/flags"),
        ("GET", "/v1/ops/reviews"),
        ("GET", f"/v1/ops/accounts/{acme['account_id']}"),
        ("POST", f"/v1/ops/accounts/{acme['account_id']}/users/{member['user_id']}/recover"),
    ]
    for role, token in _roles(api, demo, acme, admin, pn).items():
        for method, path in routes:
            resp = api.call(method, path, token)
            assert resp.status == 403, (role, method, path, resp.status)
    for method, path in routes:
        assert api.call(method, path).status in (401, 403)
        assert api.call(method, path, world.ops_token).status == 200, (method, path)


def test_ops_list_flags_across_accounts_filtered_and_paginated(
    api: Api, world: World, demo: dict[str, Any], moving: dict[str, Any]
) -> None:
    from wabaguard.people.access import load_account
    from wabaguard.risk import flags

    acme, globex = (load_account(a["account_id"]) for a in demo["accounts"])
    raised = []
    for i, (account, severity) in enumerate([(acme, "low"), (globex, "medium"), (acme, "medium"), (globex, "high")]):
        moving["now"] += timedelta(minutes=1)
        flag = flags.raise_flag(account, f"rule_{i}", severity, f"finding {i}", [{"n": i}])
        assert flag is not None
        raised.append(flag.flag_id)
    page = api.call("GET", "/v1/ops/flags?limit=3", world.ops_token).json()
    assert [f["flag_id"] for f in page["flags"]] == raised[::-1][:3], "newest first"
    assert page["flags"][0]["account_name"] == "Globex" and page["next_cursor"]
    rest = api.call("GET", f"/v1/ops/flags?limit=3&cursor={page['next_cursor']}", world.ops_token).json()
    assert [f["flag_id"] for f in rest["flags"]] == [raised[0]] and rest["next_cursor"] is None
    medium = api.call("GET", "/v1/ops/flags?severity=medium&limit=1", world.ops_token).json()
    assert [f["flag_id"] for f in medium["flags"]] == [raised[2]]
    more = api.call("GET", f"/v1/ops/flags?severity=medium&limit=1&cursor={medium['next_cursor']}", world.ops_token)
    assert [f["flag_id"] for f in more.json()["flags"]] == [raised[1]]
    flags.resolve(raised[0], "false_positive", "known", "ops")
    resolved = api.call("GET", "/v1/ops/flags?status=resolved", world.ops_token).json()
    assert [f["flag_id"] for f in resolved["flags"]] == [raised[0]]
    assert raised[0] not in [f["flag_id"] for f in api.call("GET", "/v1/ops/flags", world.ops_token).json()["flags"]]
    for query, field in (
        ("status=closed", "status"),
        ("severity=urgent", "severity"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=garbage", "cursor"),
        (f"status=resolved&cursor={page['next_cursor']}", "cursor"),
    ):
        bad = api.call("GET", f"/v1/ops/flags?{query}", world.ops_token)
        assert bad.status == 400 and bad.json()["field"] == field, (query, bad.json())


def test_ops_see_accounts_under_review_and_one_account_whole(
    api: Api, world: World, demo: dict[str, Any], acme: dict[str, Any]
) -> None:
    from wabaguard.people.access import load_account
    from wabaguard.risk import flags

    assert api.call("GET", "/v1/ops/reviews", world.ops_token).json() == {"reviews": []}
    account = load_account(acme["account_id"])
    low = flags.raise_flag(account, "stale_users", "low", "a user has been inactive", [])
    high = flags.raise_flag(load_account(acme["account_id"]), "impossible_travel", "high", "two countries", [])
    assert low is not None and high is not None
    (review,) = api.call("GET", "/v1/ops/reviews", world.ops_token).json()["reviews"]
    assert review["account_id"] == acme["account_id"] and review["name"] == "Acme Shoes"
    assert {f["flag_id"] for f in review["flags"]} == {low.flag_id, high.flag_id}
    overview = api.call("GET", f"/v1/ops/accounts/{acme['account_id']}", world.ops_token).json()
    assert overview["review"]["under_review"] is True
    assert {u["email"] for u in overview["users"]} == {"admin@acme.test", "member@acme.test"}
    assert overview["phone_numbers"][0]["webhook_host"] == "hooks.acme.test"
    assert overview["partner_change_requests"] == [] and len(overview["flags"]) == 2
    assert "token" not in str(overview) and "wgu_" not in str(overview)
    flags.resolve(high.flag_id, "confirmed", None, "ops")
    assert api.call("GET", "/v1/ops/reviews", world.ops_token).json() == {"reviews": []}
    assert api.call("GET", "/v1/ops/accounts/acc_nope", world.ops_token).status == 404


@pytest.mark.parametrize("who", ["unknown user", "removed user"])
def test_recovery_of_someone_who_is_not_a_user_is_404(
    api: Api, world: World, acme: dict[str, Any], admin: dict[str, Any], who: str
) -> None:
    user_id = "usr_" + "0" * 32
    if who == "removed user":
        user_id = acme["users"][1]["user_id"]
        assert api.approved(admin, "DELETE", f"/v1/accounts/{acme['account_id']}/users/{user_id}").status == 204
    resp = api.call("POST", f"/v1/ops/accounts/{acme['account_id']}/users/{user_id}/recover", world.ops_token)
    assert resp.status == 404 and resp.json()["error"] == "not_found"
