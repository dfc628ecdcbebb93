"""Security events without AWS: every change kind has a typed event, the committed JSON Schema is
the models', signatures are what the ``standardwebhooks`` library verifies, ids and backoff."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from wabaguard.models import WebhookDelivery
from wabaguard.webhooks import deliveries, endpoints, events

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/shared/wabaguard"


def _kinds_in_code() -> set[str]:
    """Every change kind the code records (``change_record(…, "kind"…)``, a key action's
    ``work.change(…, "kind"…)``, ``system_change("kind"…)``)."""
    found: set[str] = set()
    for path in LAYER.rglob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r'(?:change_record|work\.change)\(\s*\w+,\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'system_change\(\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'kind="([a-z_]+)"', text)) & set(events.TYPES)
    return found


def test_every_change_kind_becomes_a_typed_event() -> None:
    kinds = _kinds_in_code()
    assert {"webhook_url_set", "api_key_created", "account_flagged", "security_webhook_disabled"} <= kinds
    assert kinds - set(events.TYPES) == set(), "every notice is also an event: give the kind a type"


def test_the_issue_s_event_names_exist() -> None:
    names = set(events.EVENT_TYPES)
    assert {
        "webhook_url.changed",
        "api_key.created",
        "profile.updated",
        "template.created",
        "partner_change.requested",
        "user.added",
        "flag.raised",
        "review.started",
        "whatsapp.signal",
    } <= names


def test_the_committed_schema_is_the_models_schema() -> None:
    committed = json.loads((LAYER / "webhooks/events.schema.json").read_text())
    assert committed == json.loads(json.dumps(events.json_schema())), "run `make openapi`"
    assert {v["properties"]["type"]["const"] for v in committed["oneOf"]} == set(events.EVENT_TYPES)


def _property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        names |= set(node.get("properties", {}))
        for value in node.values():
            names |= _property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _property_names(value)
    return names


def test_no_event_model_has_a_field_for_a_secret() -> None:
    names = _property_names(events.json_schema())
    assert names & {"secret", "token", "code", "verify_token", "password", "otpauth_uri", "api_key_value"} == set()
    # an API key is told by its metadata only
    assert set(events.ApiKeyRef.model_fields) == {"key_id", "name", "prefix"}


def _delivery(payload: str = '{"type":"profile.updated"}') -> WebhookDelivery:
    return WebhookDelivery("ACCOUNT#acc_1", "DELIVERY#msg_1", delivery_id="msg_1", payload=payload)


def test_a_signature_with_two_secrets_verifies_with_either() -> None:
    one, two = endpoints.new_secret(), endpoints.new_secret()
    now = datetime.now(UTC)
    delivery = _delivery()
    headers = deliveries.headers_for(delivery, [one, two], now)
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (one, two):
        assert Webhook(secret).verify(delivery.payload, headers) == {"type": "profile.updated"}
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoints.new_secret()).verify(delivery.payload, headers)
    with pytest.raises(WebhookVerificationError):  # the body is what is signed
        Webhook(one).verify('{"type":"profile.updated" }', headers)


def test_without_a_secret_no_signature_header_is_made_up() -> None:
    headers = deliveries.headers_for(_delivery(), [], datetime.now(UTC))
    assert "webhook-signature" not in headers and headers["webhook-id"] == "msg_1"


def test_secrets_are_standard_webhooks_secrets_of_256_bits() -> None:
    secret = endpoints.new_secret()
    assert secret.startswith("whsec_")
    import base64

    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != endpoints.new_secret()


def test_delivery_ids_are_stable_per_change_and_destination_and_sort_by_time() -> None:
    a = deliveries.delivery_id("chg_1", "2026-11-26T10:00:00Z", "endpoint:acc_1")
    assert a == deliveries.delivery_id("chg_1", "2026-11-26T10:00:00Z", "endpoint:acc_1")
    assert a != deliveries.delivery_id("chg_1", "2026-11-26T10:00:00Z", "endpoint:prt_1")
    later = deliveries.delivery_id("chg_0", "2026-11-26T10:00:01Z", "endpoint:acc_1")
    assert a < later and re.fullmatch(r"msg_\d{14}[a-z2-7]{20}", a)


def test_backoff_follows_the_design_and_compresses_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETRY_DELAY_SCALE", raising=False)
    waits = [deliveries.backoff(n) for n in range(1, deliveries.MAX_ATTEMPTS)]
    hours = timedelta(hours=1)
    minutes = timedelta(minutes=1)
    assert waits == [timedelta(seconds=5), 5 * minutes, 30 * minutes, 2 * hours, 5 * hours, 10 * hours, 10 * hours]
    monkeypatch.setenv("RETRY_DELAY_SCALE", "0.001")
    assert deliveries.backoff(7) == timedelta(seconds=36)


def test_a_payload_is_compact_json_with_the_standard_envelope() -> None:
    data: dict[str, Any] = {
        "change_id": "chg_1",
        "occurred_at": "2026-11-26T10:00:00Z",
        "account": {"account_id": "acc_1", "name": "Acme", "kind": "client"},
        "actor": {"type": "wabaguard", "name": "wabaguard monitoring"},
        "summary": "s",
        "under_review": True,
        "reason": "r",
    }
    event = events.Event(type="review.started", timestamp="2026-11-26T10:00:00Z", data=events.ReviewEvent(**data))
    text = event.payload()
    assert json.loads(text)["type"] == "review.started" and ", " not in text and ": " not in text


@pytest.mark.parametrize("sample", sorted((ROOT / "events/security").glob("*.json")), ids=lambda p: p.name)
def test_the_sample_events_match_the_schema(sample: Path) -> None:
    import jsonschema

    schema = json.loads((LAYER / "webhooks/events.schema.json").read_text())
    jsonschema.validate(json.loads(sample.read_text()), schema)
