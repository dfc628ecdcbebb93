"""The key-action registry is complete (issue 21): every entry has every part, and the template,
the API handler, the notices, the events and Meta's changes agree with it."""

from __future__ import annotations

import ast
import re
from importlib import import_module
from pathlib import Path

import pytest
from wabaguard import responses, schemas
from wabaguard.keyactions import registry
from wabaguard.keyactions.registry import KEY_ACTIONS, SECRET, KeyAction
from wabaguard.notices import notify
from wabaguard.otp.approvals import SECRET_FIELDS
from wabaguard.people.access import EVERY_ROLE
from wabaguard.webhooks import events
from wabaguard.whatsapp import changes

from devstack.cfn import ROOT, Stack

IDS = [a.name for a in KEY_ACTIONS]


@pytest.mark.parametrize("action", KEY_ACTIONS, ids=IDS)
def test_every_entry_has_every_part(action: KeyAction) -> None:
    family = import_module(f"wabaguard.keyactions.{action.family}")
    assert callable(getattr(family, f"words_{action.name}", None)), "says the request in words"
    assert callable(getattr(family, f"do_{action.name}", None)), "performs it"
    body = getattr(schemas, action.body, None)
    assert isinstance(body, type) and issubclass(body, schemas.Strict), "its body model"
    assert action.roles and action.roles <= EVERY_ROLE, "who may make it"
    params = set(re.findall(r"{(\w+)}", action.path))
    expected_target = "phone" if "phone_number_id" in params else "account" if "account_id" in params else "self"
    assert action.target == expected_target, "what it acts on follows from its path"
    assert action.method in ("POST", "PUT", "PATCH", "DELETE")
    if action.status == 204:
        assert action.response is None
    else:
        model = getattr(responses, action.response or "", None)
        assert model is not None, "its answer's model"
        assert responses.SUCCESS[(action.method, action.path)] is model, "the API description shows that answer"
        secret = bool(SECRET_FIELDS & set(model.model_fields))
        assert (action.replay == SECRET) == secret, "a one-time secret in the answer is replayed encrypted"
    assert action.notice in notify.DESCRIBED, "the notifier describes the change it writes"
    assert events.TYPES[action.notice][0] == action.event, "its security event"
    assert (action.name in changes.ACTIONS) == action.meta, "Meta applies what the registry says"


def test_names_paths_and_notices_are_unique() -> None:
    assert len(set(IDS)) == len(IDS)
    assert len({(a.method, a.path) for a in KEY_ACTIONS}) == len(KEY_ACTIONS)
    assert len({a.notice for a in KEY_ACTIONS}) == len(KEY_ACTIONS)


def test_the_template_routes_every_key_action_to_the_api_and_nothing_else_claims_one() -> None:
    routes = {(r.method, r.path): r for r in Stack().routes()}
    for action in KEY_ACTIONS:
        route = routes.get((action.method, action.path))
        assert route is not None, f"{action.name}: no route in template.yaml"
        assert route.function == "AccountApiFunction" and route.authorizer, action.name
    assert {registry.by_resource(m, p) for (m, p) in routes} - {None} == set(KEY_ACTIONS)


def test_the_api_handler_runs_each_key_action_on_its_own_route() -> None:
    """``functions/account_api``: every route that calls ``key_action("<name>")`` is that name's
    method and path, and every key action has such a route."""
    tree = ast.parse(Path(ROOT, "functions/account_api/app.py").read_text())
    seen: dict[str, tuple[str, str]] = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        route = next(
            (d for d in fn.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)), None
        )
        calls = [
            c
            for c in ast.walk(fn)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "key_action"
        ]
        if route is None or not calls:
            continue
        assert isinstance(route.func, ast.Attribute) and isinstance(route.args[0], ast.Constant)
        name = calls[0].args[0]
        assert isinstance(name, ast.Constant)
        path = re.sub(r"<(\w+)>", r"{\1}", str(route.args[0].value))
        seen[str(name.value)] = (route.func.attr.upper(), path)
    assert seen == {a.name: (a.method, a.path) for a in KEY_ACTIONS}


def test_the_authorizer_matches_concrete_paths_to_their_action() -> None:
    for action in KEY_ACTIONS:
        concrete = re.sub(r"{\w+}", "x_1", action.pattern)
        matched = registry.match(action.method, concrete)
        assert matched is not None and matched[0] is action
        assert registry.by_resource(action.method.lower(), action.resource) is action
