"""Meta's answers sorted into what the applier does, and Meta's form rules (no network here)."""

from __future__ import annotations

from typing import Any

import pytest
from wabaguard.whatsapp import forms
from wabaguard.whatsapp.changes import backoff
from wabaguard.whatsapp.graph import classify


def error(code: int, status: int = 400, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": f"(#{code}) words", "type": "OAuthException", "code": code, **extra}}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ((200, {"id": "1", "status": "PENDING", "category": "UTILITY"}), "applied"),
        ((200, {"success": True}), "applied"),
        ((500, {}), "transient"),
        ((503, {"error": {"message": "down"}}), "transient"),
        ((429, {}), "transient"),
        (error(80007), "transient"),  # WABA rate limit: Graph answers 400 with a throttling code
        (error(4), "transient"),
        (error(130429), "transient"),
        (error(2, status=500), "transient"),
        (error(100, is_transient=True), "transient"),
        (error(190, status=401), "config"),  # our token expired: not the customer's change
        (error(10, status=403), "config"),
        (error(200, status=403), "config"),
        (error(100), "permanent"),
        (error(100, error_subcode=2388024), "permanent"),
        ((404, {}), "permanent"),
    ],
)
def test_meta_answers_are_sorted_by_code_not_title(answer: tuple[int, dict[str, Any]], kind: str) -> None:
    assert classify(*answer).kind == kind


def test_the_user_message_is_preferred_and_bounded() -> None:
    status, body = error(100, error_user_msg="The vertical is not allowed")
    assert classify(status, body).detail == "The vertical is not allowed"
    assert len(classify(400, {"error": {"code": 100, "message": "x" * 5000}}).detail) == 500


def test_backoff_grows_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRY_DELAY_SCALE", "1")
    waits = [backoff(n).total_seconds() for n in range(1, 12)]
    assert waits == sorted(waits) and waits[0] == 10 and waits[-1] == 3600


def test_metas_twenty_one_verticals() -> None:
    assert len(forms.VERTICALS) == 21 and "UNDEFINED" not in forms.VERTICALS


@pytest.mark.parametrize(
    ("category", "components", "where"),
    [
        ("UTILITY", [{"type": "FOOTER", "text": "x"}], "components"),
        ("UTILITY", [{"type": "body", "text": ""}], "components[0].text"),
        (
            "UTILITY",
            [{"type": "BODY", "text": "x"}, {"type": "HEADER", "format": "TEXT", "text": "h" * 61}],
            "components[1].text",
        ),
        ("UTILITY", [{"type": "BODY", "text": "x"}, {"type": "BUTTONS", "buttons": []}], "components[1].buttons"),
        (
            "UTILITY",
            [{"type": "BODY", "text": "x"}, {"type": "BUTTONS", "buttons": [{"type": "PHONE_NUMBER", "text": "Call"}]}],
            "components[1].buttons[0].phone_number",
        ),
        ("UTILITY", ["BODY"], "components[0]"),
    ],
)
def test_template_forms_meta_refuses(category: str, components: list[Any], where: str) -> None:
    with pytest.raises(forms.FormError) as err:
        forms.check_template(category, components)
    assert err.value.where == where


def test_template_forms_meta_accepts() -> None:
    forms.check_template(
        "AUTHENTICATION",
        [
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
        ],
    )
    forms.check_template(
        "MARKETING",
        [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}"},
            {"type": "FOOTER", "text": "Reply STOP"},
        ],
    )


def test_every_activity_kind_producers_may_send_has_its_required_fields() -> None:
    from wabaguard.ingest import KINDS, REQUIRED

    assert set(KINDS) == set(REQUIRED)
