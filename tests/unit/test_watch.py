"""§WABA watch without AWS: Meta's answers read as Meta documents them, every page followed within
the budget, differences found and explained, Meta's own moves left alone, the drift event typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from wabaguard.watch import compare, reads
from wabaguard.watch.compare import Applied
from wabaguard.whatsapp.graph import Outcome, classify

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "graph"


class FakeGraph:
    """Answers by path, like the Graph API; records what was asked."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, str]]] = []

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Outcome:
        self.calls.append((path, dict(query or {})))
        answer = self.answers[path]
        if callable(answer):
            answer = answer(query or {})
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        return classify(status, payload)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def world(**over: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "/1/subscribed_apps": sample("subscribed_apps"),
        "/1/phone_numbers": {
            "data": [
                {
                    "id": "106540352242922",
                    "display_phone_number": "+1 631-555-5555",
                    "verified_name": "Lucky Shrub",
                    "status": "LINKED",
                }
            ]
        },
        "/106540352242922": sample("phone_webhook_configuration"),
        "/1/assigned_users": {
            "data": [{"id": "55", "name": "BSP system user", "user_type": "SYSTEM_USER", "tasks": ["MANAGE"]}]
        },
        "/1/message_templates": {
            "data": [{"name": "hello", "language": "en_US", "status": "APPROVED", "category": "UTILITY", "id": "9"}]
        },
    }
    answers.update(over)
    return answers


def test_metas_documented_answers_are_read_and_fit_its_openapi_description() -> None:
    from devstack import meta_spec

    assert meta_spec.response_errors("GET", "/v23.0/1/subscribed_apps", 200, sample("subscribed_apps")) == []
    assert meta_spec.response_errors("GET", "/v23.0/106540352242922", 200, sample("phone_webhook_configuration")) == []
    state, calls = reads.read_state(FakeGraph(world()), reads.Budget(50), "1", "77")  # type: ignore[arg-type]
    assert calls == 5
    app = state["apps"]["670843887433847"]
    assert app["name"] == "Lucky Shrub" and app["override_callback_uri"]["shown"].startswith("https://my-waba-")
    assert state["phones"]["106540352242922"]["webhook"]["shown"] == "https://my-phone-alternate-callback.com/webhook"
    assert state["users"]["55"]["tasks"] == ["MANAGE"] and state["templates"]["hello|en_US"]["status"] == "APPROVED"


def test_without_the_partners_business_people_with_access_are_not_read() -> None:
    graph = FakeGraph(world())
    state, calls = reads.read_state(graph, reads.Budget(50), "1", None)  # type: ignore[arg-type]
    assert state["users"] is None and calls == 4 and all(p != "/1/assigned_users" for p, _ in graph.calls)


def test_a_callback_url_is_kept_shown_with_its_query_masked_and_compared_by_digest() -> None:
    answers = world()
    answers["/106540352242922"] = {"webhook_configuration": {"phone_number": "https://evil.example/h?key=s3cret"}}
    state, _ = reads.read_state(FakeGraph(answers), reads.Budget(50), "1", None)  # type: ignore[arg-type]
    hook = state["phones"]["106540352242922"]["webhook"]
    assert hook["shown"] == "https://evil.example/h?…" and "s3cret" not in json.dumps(state)
    other = json.loads(json.dumps(state))
    other["phones"]["106540352242922"]["webhook"]["sha256"] = "0" * 64  # only the secret query changed
    (diff,) = compare.differences(state, other)
    assert diff.area == "phone_webhook" and "s3cret" not in str(diff)


def test_every_page_is_followed_by_its_cursor_and_no_further() -> None:
    def templates(query: dict[str, str]) -> dict[str, Any]:
        start = int(query.get("after") or 0)
        page: dict[str, Any] = {"data": [{"name": f"t{start + i}", "language": "en"} for i in range(2)]}
        if start < 4:
            page["paging"] = {"cursors": {"after": str(start + 2)}, "next": "https://graph.facebook.com/…"}
        else:
            page["paging"] = {"cursors": {"after": str(start + 2)}}  # no next: the last page
        return page

    graph = FakeGraph(world(**{"/1/message_templates": templates}))
    state, _ = reads.read_state(graph, reads.Budget(50), "1", None)  # type: ignore[arg-type]
    assert len(state["templates"]) == 6
    assert [q.get("after") for p, q in graph.calls if p == "/1/message_templates"] == [None, "2", "4"]
    looping = FakeGraph({"/x": {"data": [], "paging": {"cursors": {"after": "same"}, "next": "n"}}})
    assert reads.pages(looping, reads.Budget(50), "/x", {"after": "same"}) == []  # type: ignore[arg-type]
    assert len(looping.calls) == 1  # a cursor that does not move ends the edge


def test_the_budget_stops_a_read_and_a_refusal_names_the_call() -> None:
    with pytest.raises(reads.OutOfCalls):
        reads.read_state(FakeGraph(world()), reads.Budget(3), "1", "77")  # type: ignore[arg-type]
    refused = world(**{"/1/phone_numbers": (400, {"error": {"message": "(#80008) rate", "code": 80008}})})
    with pytest.raises(reads.ReadFailed) as failed:
        reads.read_state(FakeGraph(refused), reads.Budget(50), "1", "77")  # type: ignore[arg-type]
    assert failed.value.outcome.kind == "transient" and failed.value.path == "/1/phone_numbers"


@pytest.mark.parametrize(("code", "kind"), [(4, "transient"), (80007, "transient"), (80008, "transient"),
                                            (130429, "transient"), (190, "config"), (100, "permanent")])  # fmt: skip
def test_metas_codes_sort_into_backoff_pause_or_refusal(code: int, kind: str) -> None:
    assert classify(400, {"error": {"message": "x", "code": code}}).kind == kind
    assert classify(503, {}).kind == "transient"


def _state() -> dict[str, Any]:
    state, _ = reads.read_state(FakeGraph(world()), reads.Budget(50), "1", "77")  # type: ignore[arg-type]
    return state


def test_metas_own_moves_are_not_differences() -> None:
    before, after = _state(), _state()
    after["templates"]["hello|en_US"]["status"] = "PAUSED"
    after["templates"]["hello|en_US"]["category"] = "MARKETING"
    after["phones"]["106540352242922"]["quality_rating"] = "RED"
    assert compare.digest(before) == compare.digest(after) and compare.differences(before, after) == []


def test_each_area_is_a_difference_of_its_severity() -> None:
    before, after = _state(), _state()
    after["apps"]["1"] = {"name": "Relay", "override_callback_uri": None}
    after["phones"]["106540352242922"]["verified_name"] = "Lucky Shrub Ltd"
    after["phones"]["106540352242922"]["status"] = "RESTRICTED"
    after["users"]["55"]["tasks"] = ["DEVELOP", "MANAGE"]
    after["templates"]["x|de"] = {"name": "x", "language": "de", "category": "MARKETING", "status": "PENDING"}
    diffs = compare.differences(before, after)
    got = {(d.area, d.change, d.severity) for d in diffs}
    assert got == {("app", "added", "high"), ("phone_name", "changed", "medium"),
                   ("phone_status", "changed", "medium"), ("user_tasks", "changed", "high"),
                   ("template", "added", "medium")}  # fmt: skip
    assert diffs[0].severity == "high" and compare.severity_of(diffs) == "high"
    assert compare.differences(after, before) and compare.digest(before) != compare.digest(after)


def test_a_difference_is_explained_only_by_the_change_that_made_it() -> None:
    before, after = _state(), _state()
    after["templates"]["new|en"] = {"name": "new", "language": "en", "category": "UTILITY", "status": "PENDING"}
    url = after["phones"]["106540352242922"]["webhook"]
    after["phones"]["106540352242922"]["webhook"] = {"shown": "https://hooks.example/x", "sha256": "a" * 64}
    by_area = {d.area: d for d in compare.differences(before, after)}
    template, hook = by_area["template"], by_area["phone_webhook"]
    assert compare.explained_by(template, [Applied("template", "new|en", "added")], after) is not None
    assert compare.explained_by(template, [Applied("template", "other|en", "added")], after) is None
    assert compare.explained_by(hook, [Applied("phone_webhook", "106540352242922", "changed", "a" * 64)], after)
    other_url = [Applied("phone_webhook", "106540352242922", "changed", url["sha256"])]
    assert compare.explained_by(hook, other_url, after) is None  # wabaguard set another URL than Meta now has


def test_the_drift_event_is_typed_and_fits_the_published_schema() -> None:
    import jsonschema
    from wabaguard.models import Account, WabaDrift, system_change
    from wabaguard.webhooks import events

    before, after = _state(), _state()
    after["apps"]["1"] = {"name": "Relay", "override_callback_uri": None}
    diffs = compare.differences(before, after)
    from datetime import UTC, datetime

    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    drift = WabaDrift("ACCOUNT#acc_1", "DRIFT#x", drift_id="drf_1", account_id="acc_1", waba_id="1",
                      severity="high", differences=[d.as_dict() for d in diffs], found_at="2026-12-02T10:00:00Z",
                      last_change=system_change("waba_drift", now, "wabaguard WABA watch", "drf_1"))  # fmt: skip
    account = Account("ACCOUNT#acc_1", "META", account_id="acc_1", name="Acme", kind="client", created_at="x")
    event = events.build(
        None, drift, account, "The WhatsApp Business Account of Acme was changed at Meta, outside wabaguard"
    )
    assert event is not None and event.type == "whatsapp.drift"
    schema = json.loads((ROOT / "layers/shared/wabaguard/webhooks/events.schema.json").read_text())
    payload = json.loads(event.payload())
    jsonschema.validate(payload, schema)
    committed = json.loads((ROOT / "events/security/whatsapp.drift.json").read_text())  # the published sample
    payload["data"]["change_id"] = committed["data"]["change_id"]
    assert payload == committed
