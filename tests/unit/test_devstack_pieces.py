"""The local stack's own logic: template intrinsics, IAM policy evaluation, stream filters."""

from __future__ import annotations

import json

import pytest

from devstack.cfn import Stack, route_pattern
from devstack.gateway import policy_allows
from devstack.server import rate_seconds
from devstack.streams import passes_filters

ARN = "arn:aws:execute-api:us-east-1:123456789012:api/v1/PUT/phone-numbers/pn_1/webhook"


def _policy(effect: str, resource: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}],
    }


def test_policy_allows_exact_and_wildcard_resources() -> None:
    assert policy_allows(_policy("Allow", ARN), ARN)
    assert policy_allows(_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:api/v1/*/*"), ARN)
    assert not policy_allows(_policy("Allow", ARN.replace("PUT", "GET")), ARN)
    assert not policy_allows({"Statement": []}, ARN)


def test_explicit_deny_wins() -> None:
    doc = _policy("Allow", ARN)
    doc["Statement"].append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"})  # type: ignore[attr-defined]
    assert not policy_allows(doc, ARN)


def test_intrinsics_resolve_against_local_names() -> None:
    stack = Stack(region="eu-west-1")
    assert stack.resolve({"Ref": "AccountsTable"}) == "wabaguard-local-AccountsTable"
    assert stack.resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert stack.resolve({"Ref": "OtpMaxAttempts"}) == 5
    assert stack.resolve({"Fn::Sub": "${AWS::AccountId}/${SenderEmail}"}) == "123456789012/security@wabaguard.example"
    assert stack.resolve({"Fn::GetAtt": ["AccountsTable", "Arn"]}).endswith(":table/wabaguard-local-AccountsTable")


def test_routes_come_from_the_template_with_literal_segments_first() -> None:
    routes = Stack().routes()
    pairs = {(r.method, r.path) for r in routes}
    assert ("GET", "/me") in pairs and ("POST", "/otp/challenges") in pairs
    auth = {(r.method, r.path): r.authorizer for r in routes}
    assert auth[("POST", "/ops/flags/{flag_id}/resolve")] == "AWS_IAM"
    assert auth[("GET", "/report/{token}")] is None and auth[("POST", "/report/{token}")] is None
    assert auth[("GET", "/openapi.json")] is None  # the API's public description
    assert auth[("GET", "/meta/webhook")] is None and auth[("POST", "/meta/webhook")] is None  # Meta signs instead
    cancel = "/partner-change/cancel/{token}"  # a notice's single-use cancel link: the token is the credential
    assert auth[("GET", cancel)] is None and auth[("POST", cancel)] is None
    invite = "/invite/{token}"  # a person's single-use invite: the token is the credential
    assert auth[("GET", invite)] is None and auth[("POST", invite)] is None
    approve = "/approve/{token}"  # a passkey challenge's approval page: only the passkey's assertion acts
    assert auth[("GET", approve)] is None and auth[("POST", approve)] is None
    public = ("/ops/", "/report/", "/openapi.json", "/meta/webhook", "/partner-change/cancel/", "/invite/", "/approve/")
    others = {k: v for k, v in auth.items() if not k[1].startswith(public)}
    assert set(others.values()) == {"OtpAuthorizer"}
    pattern, params = route_pattern("/accounts/{account_id}/users/{user_id}")
    assert params == ["account_id", "user_id"]
    assert pattern.match("/accounts/a/users/b") and not pattern.match("/accounts/a/users/b/c")


def test_template_stream_filter_passes_only_records_with_a_change() -> None:
    stack = Stack()
    event = stack.functions()["ChangeNotifierFunction"].events["AccountsStream"]
    filters = event["Properties"]["FilterCriteria"]["Filters"]
    change = {"dynamodb": {"NewImage": {"last_change": {"M": {"change_id": {"S": "chg_1"}}}}}}
    plain = {"dynamodb": {"NewImage": {"pk": {"S": "x"}}}}
    removed = {"dynamodb": {"OldImage": {"pk": {"S": "x"}}}}
    assert passes_filters(filters, change)
    assert not passes_filters(filters, plain)
    assert not passes_filters(filters, removed)


@pytest.mark.parametrize(
    "pattern,record,ok",
    [
        ({"eventName": ["INSERT", "MODIFY"]}, {"eventName": "MODIFY"}, True),
        ({"eventName": ["INSERT"]}, {"eventName": "REMOVE"}, False),
        ({"a": {"b": [{"exists": False}]}}, {"a": {}}, True),
        ({"a": {"b": [{"prefix": "US"}]}}, {"a": {"b": "USER#1"}}, True),
        ({"a": [{"anything-but": ["x"]}]}, {"a": "y"}, True),
        ({"a": [{"anything-but": ["x"]}]}, {"a": "x"}, False),
    ],
)
def test_filter_patterns(pattern: dict[str, object], record: dict[str, object], ok: bool) -> None:
    assert passes_filters([{"Pattern": json.dumps(pattern)}], record) is ok


def test_schedule_rates() -> None:
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 hour)") == 3600
    with pytest.raises(ValueError):
        rate_seconds("cron(0 * * * ? *)")


# ---------------------------------------------------------------- function roles (devstack.iam)
def _requests(service: str, operation: str, params: dict[str, object]) -> list[tuple[str, str]]:
    from devstack.iam import requests_of

    return [(r.action, r.resource) for r in requests_of(Stack(), service, operation, params)]


def test_a_transaction_needs_each_items_own_action_on_its_table() -> None:
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    items = [
        {"Put": {"TableName": "A"}},
        {"Update": {"TableName": "B"}},
        {"Delete": {"TableName": "A"}},
        {"ConditionCheck": {"TableName": "C"}},
    ]
    assert _requests("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:PutItem", table + "A"),
        ("dynamodb:UpdateItem", table + "B"),
        ("dynamodb:DeleteItem", table + "A"),
        ("dynamodb:ConditionCheckItem", table + "C"),
    ]
    assert _requests("dynamodb", "Query", {"TableName": "A", "IndexName": "by_bucket"}) == [
        ("dynamodb:Query", table + "A/index/by_bucket")
    ]
    assert _requests("dynamodb", "BatchGetItem", {"RequestItems": {"A": {}, "B": {}}}) == [
        ("dynamodb:BatchGetItem", table + "A"),
        ("dynamodb:BatchGetItem", table + "B"),
    ]


def test_put_events_needs_a_grant_on_each_bus_it_names() -> None:
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/"
    entries = [{"Source": "wabaguard"}, {"Source": "wabaguard", "EventBusName": "audit"}]
    assert _requests("events", "PutEvents", {"Entries": entries}) == [
        ("events:PutEvents", bus + "audit"),
        ("events:PutEvents", bus + "default"),
    ]


def test_unknown_calls_need_a_grant_on_everything() -> None:
    assert _requests("s3", "GetObject", {"Bucket": "b"}) == [("s3:GetObject", "*")]


def test_a_role_allows_only_its_actions_resources_and_conditions() -> None:
    from devstack.iam import Policy, Request

    table = "arn:aws:dynamodb:us-east-1:123456789012:table/A"
    identity = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
    role = Policy(
        "Fn",
        [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": table},
            {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": table},
            {
                "Effect": "Allow",
                "Action": "ses:SendRawEmail",
                "Resource": [identity],
                "Condition": {"StringEquals": {"ses:FromAddress": "no-reply@example.com"}},
            },
        ],
    )
    assert role.allows(Request("dynamodb:GetItem", table))
    assert not role.allows(Request("dynamodb:PutItem", table))  # the explicit Deny wins
    assert not role.allows(Request("dynamodb:GetItem", table + "B"))
    sender = (("ses:FromAddress", "no-reply@example.com"),)
    other = (("ses:FromAddress", "ceo@example.com"),)
    assert role.allows(
        Request("ses:SendRawEmail", identity.replace("example.com", "no-reply@example.com"), sender, (identity,))
    )
    assert not role.allows(Request("ses:SendRawEmail", identity, other))
    unknown_operator = Policy(
        "Fn", [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {}}}]
    )
    assert not unknown_operator.allows(Request("dynamodb:GetItem", table))


@pytest.mark.parametrize(
    "host,ok",
    [
        ("127.0.0.1:3000", True),
        ("localhost:3000", True),
        ("LOCALHOST", True),
        ("[::1]:3000", True),
        ("127.0.0.2", True),
        ("evil.example:3000", False),
        ("rebind.attacker.test", False),
        ("127.0.0.1.nip.io:3000", False),
        ("", False),
        (None, False),
        ("[::1", False),
    ],
)
def test_local_routes_answer_only_to_loopback_host_headers(host: str | None, ok: bool) -> None:
    """Review item 20: a DNS-rebinding page sends its own name as Host."""
    from devstack.server import loopback_host

    assert loopback_host(host) is ok


def test_the_onboarding_client_signs_with_sigv4_for_execute_api() -> None:
    from botocore.credentials import Credentials

    from tools.ops import api_url, region_of, signed_request

    url = "https://abc123.execute-api.eu-central-1.amazonaws.com/v1/ops/accounts"
    req = signed_request(url, b'{"name": "x"}', region_of(url, None), Credentials("AKIDEXAMPLE", "secret"))
    auth = req.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-central-1/execute-api/aws4_request" in auth
    assert "X-amz-date" in req.headers or "X-Amz-Date" in req.headers
    with pytest.raises(SystemExit):
        api_url("http://api.example.com/v1")  # plain http only for the local stack
    assert api_url("http://127.0.0.1:3000/v1/") == "http://127.0.0.1:3000/v1"


def test_the_cached_moto_dispatch_finds_the_backends_moto_finds() -> None:
    """``moto_fixes.cache_dispatch`` (a speed-up of the local stack) changes no request's backend."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from devstack import moto_fixes

    hosts = [None, "moto_api", "dynamodb.us-east-1.amazonaws.com", "streams.dynamodb.us-east-1.amazonaws.com",
             "sqs.us-east-1.amazonaws.com", "email.us-east-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com",
             "s3", "nothing.example"]  # fmt: skip
    before = DomainDispatcherApplication(create_backend_app)
    wanted = [before.get_backend_for_host(h) for h in hosts]
    assert "dynamodb" in wanted and "sqs" in wanted  # the comparison is real
    moto_fixes.cache_dispatch()
    after = DomainDispatcherApplication(create_backend_app)
    assert [after.get_backend_for_host(h) for h in hosts] == wanted
    assert [after.get_backend_for_host(h) for h in hosts] == wanted  # from the cache, the same


def test_each_in_process_function_has_a_metric_set_of_its_own() -> None:
    """Lambda gives every function a process; the local stack's functions share one, and Powertools
    shares metrics between every ``Metrics`` of a process. ``private_metrics`` separates them."""
    from types import SimpleNamespace

    from aws_lambda_powertools import Metrics

    from devstack.runtime import private_metrics

    authorizer, handler = Metrics(namespace="T"), Metrics(namespace="T")
    assert authorizer.metric_set is handler.metric_set  # what Powertools does in one process
    private_metrics(SimpleNamespace(metrics=authorizer))
    private_metrics(SimpleNamespace(metrics=handler))
    authorizer.add_metric(name="OtpVerified", unit="Count", value=1)
    assert handler.metric_set == {}
    handler.add_metric(name="KeyActions", unit="Count", value=1)
    handler.clear_metrics()
    emitted = authorizer.serialize_metric_set()["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert emitted == [{"Name": "OtpVerified", "Unit": "Count"}]
