"""§Mail delivery without AWS: SES's documented events read from EventBridge's envelope (and bare),
the forward-only status, and the local stack's mailbox simulator."""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import pytest
from wabaguard.mail import outcomes, ses

from devstack.mail_events import envelope, matches, outcome, ses_events

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "ses"


@pytest.mark.parametrize(
    ("name", "kind", "status"),
    [
        ("delivery", "Delivery", "delivered"),
        ("bounce", "Bounce", "bounced"),
        ("complaint", "Complaint", "complained"),
        ("reject", "Reject", "rejected"),
        ("delivery_delay", "DeliveryDelay", "delayed"),
    ],
)
def test_awss_documented_events_are_read_from_eventbridge_and_bare(name: str, kind: str, status: str) -> None:
    event = json.loads((SAMPLES / f"{name}.json").read_text())
    read = ses.read(event)
    assert (read.type, read.status) == (kind, status)
    assert read.message_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert read.recipients == ("recipient@example.com",) and read.at
    assert ses.read(event["detail"]) == read  # the bare record (an SNS message) reads the same
    if kind == "Bounce":
        assert read.detail == "Permanent bounce (General): 5.1.1 smtp; 550 5.1.1 user unknown"


@pytest.mark.parametrize(
    "bad",
    [None, [], {}, {"eventType": "Open", "mail": {"messageId": "x"}}, {"eventType": "Bounce", "mail": {}},
     {"detail-type": "Email Bounced", "detail": {"mail": {"messageId": ""}}}],
)  # fmt: skip
def test_what_is_not_an_ses_event_is_refused_by_name(bad: object) -> None:
    with pytest.raises(ses.NotAnSesEvent):
        ses.read(bad)


def test_the_status_moves_forward_only_whatever_order_events_arrive_in() -> None:
    finals = {}
    for order in permutations(["delayed", "delivered", "delayed"]):
        state = "sent"
        for status in order:
            state = outcomes.next_status(state, status)
        finals[order] = state
    assert set(finals.values()) == {"delivered"}
    assert outcomes.next_status("bounced", "delivered") == "bounced"
    assert outcomes.next_status("delivered", "complained") == "complained"  # a complaint follows a delivery
    assert outcomes.next_status("complained", "delayed") == "complained"


def test_the_local_simulator_follows_sess_mailbox_simulator() -> None:
    assert outcome("bounce@simulator.amazonses.com") == "bounce" == outcome("ann+bounce@acme.test")
    assert outcome("complaint@simulator.amazonses.com") == "complaint" == outcome("ann+complaint@acme.test")
    assert outcome("suppressionlist@simulator.amazonses.com") == "suppressed"
    assert outcome("ann@acme.test") == outcome("bounce@acme.test") == "delivery"
    (suppressed,) = ses_events("m", "s@x.test", "suppressionlist@simulator.amazonses.com", "s", "cs", "us-east-1")
    assert suppressed["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    delivered, complained = ses_events("m", "s@x.test", "a+complaint@x.test", "s", "cs", "us-east-1")
    assert [delivered["eventType"], complained["eventType"]] == ["Delivery", "Complaint"]


def test_the_emitted_envelope_matches_the_templates_rule_and_reads_like_awss() -> None:
    pattern = {
        "source": ["aws.ses"],
        "detail-type": ["Email Delivered", "Email Bounced"],
        "detail": {"mail": {"tags": {"ses:configuration-set": ["cs"]}}},
    }
    (bounce,) = ses_events("m1", "s@x.test", "a+bounce@x.test", "Hello", "cs", "us-east-1")
    wrapped = envelope(bounce, "us-east-1", "cs")
    (elsewhere,) = ses_events("m2", "s@x.test", "a+bounce@x.test", "Hello", "other", "us-east-1")
    assert matches(pattern, wrapped) and not matches(pattern, envelope(elsewhere, "us-east-1", "other"))
    documented = json.loads((SAMPLES / "bounce.json").read_text())
    assert set(wrapped) == set(documented) and set(wrapped["detail"]["mail"]) >= {"messageId", "destination", "tags"}
    assert ses.read(wrapped).status == "bounced"
