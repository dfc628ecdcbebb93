from __future__ import annotations

import pytest
from wabaguard.keyactions import registry as routes

from devstack.cfn import Stack


@pytest.mark.parametrize(
    "method,path,name,params",
    [
        ("PUT", "/v1/phone-numbers/pn_1/webhook", "set_webhook_url", {"phone_number_id": "pn_1"}),
        ("patch", "/v1/phone-numbers/pn_1/profile", "update_profile", {"phone_number_id": "pn_1"}),
        ("POST", "/v1/accounts/acc_1/templates", "create_template", {"account_id": "acc_1"}),
        ("POST", "/v1/accounts/acc_1/partner-change-requests", "request_partner_change", {"account_id": "acc_1"}),
        ("POST", "/v1/phone-numbers/pn_1/api-keys", "create_api_key", {"phone_number_id": "pn_1"}),
        ("POST", "/v1/accounts/acc_1/users", "add_user", {"account_id": "acc_1"}),
        ("DELETE", "/v1/accounts/acc_1/users/usr_2", "remove_user", {"account_id": "acc_1", "user_id": "usr_2"}),
        ("POST", "/v1/me/totp", "enroll_totp", {}),
    ],
)
def test_key_actions_are_recognised(method: str, path: str, name: str, params: dict[str, str]) -> None:
    matched = routes.match(method, path)
    assert matched is not None
    assert matched[0].name == name and matched[1] == params


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/phone-numbers/pn_1"),
        ("GET", "/v1/phone-numbers/pn_1/webhook"),
        ("PUT", "/v1/phone-numbers/pn_1/webhook/"),
        ("PUT", "/phone-numbers/pn_1/webhook"),
        ("DELETE", "/v1/phone-numbers/pn_1/api-keys/key_1"),
        ("POST", "/v1/me/totp/confirm"),
    ],
)
def test_other_requests_are_not_key_actions(method: str, path: str) -> None:
    assert routes.match(method, path) is None


def test_every_key_action_is_a_route_of_the_template() -> None:
    template_routes = {(r.method, r.path) for r in Stack().routes()}
    for action in routes.KEY_ACTIONS:
        assert (action.method, action.resource) in template_routes, action


@pytest.mark.parametrize("pn", ["pn%201", "pn%2F1", "p" * 65, "ünïcode", "pn_1;x"])
def test_odd_ids_on_key_action_routes_are_still_key_actions(pn: str) -> None:
    """Review item 19: an id the old pattern could not parse made the route a non-key action."""
    matched = routes.match("PUT", f"/v1/phone-numbers/{pn}/webhook")
    assert matched is not None and matched[0].name == "set_webhook_url"


def test_the_authorizer_recognises_key_actions_by_the_gateway_resource() -> None:
    for action in routes.KEY_ACTIONS:
        assert routes.by_resource(action.method.lower(), action.resource) is action
    assert routes.by_resource("GET", "/phone-numbers/{phone_number_id}") is None
    assert routes.by_resource("PUT", None) is None
