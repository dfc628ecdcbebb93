"""Issue 22: emails a business user trusts (one layout, times and durations for people, API hints
apart), and the ops client's signing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from wabaguard import clock
from wabaguard.notices import mailer


def test_times_are_written_for_people_with_their_zone() -> None:
    assert clock.for_people("2026-11-25T12:00:00Z") == "Wed 25 Nov 2026, 12:00 UTC"
    assert clock.for_people(datetime(2026, 12, 2, 5, 7, tzinfo=UTC)) == "Wed 2 Dec 2026, 05:07 UTC"
    assert clock.for_people("2026-11-25T12:00:00.123456Z") == "Wed 25 Nov 2026, 12:00 UTC"
    assert clock.for_people(None) == "(not set)" and clock.for_people("soon") == "soon"


def test_durations_are_words() -> None:
    assert clock.in_words(86400) == "1 day"
    assert clock.in_words(30) == "30 seconds" and clock.in_words(1) == "1 second"
    assert clock.in_words(5400) == "1 hour 30 minutes"
    assert clock.in_words(7 * 86400 + 3600 + 60) == "7 days 1 hour", "two parts at most"


def test_one_layout_with_the_code_apart_a_footer_and_api_hints_on_their_own() -> None:
    mail = mailer.render(
        "a@b.test",
        "Your code",
        ["Someone asked to <b>change</b> the webhook.", "It expires soon."],
        [("Reference", "ABC-123")],
        ["If it was not you, tell your admin."],
        code="123456",
        integrators=["POST /v1/me/tokens"],
        why="You receive this because you are a user of Acme.",
        reference="challenge ABC-123",
    )
    assert "Your one-time code is 123456" in mail.text
    person, _, rest = mail.text.partition("For integrators:")
    assert "/v1/" not in person and "POST /v1/me/tokens" in rest, "API hints only in their own line"
    assert "You receive this because you are a user of Acme." in mail.text and "support@" in mail.text
    assert "font-family:" in mail.html and "serif" not in mail.html.replace("sans-serif", "")
    assert "letter-spacing:6px" in mail.html and ">123456</p>" in mail.html, "the code is set apart"
    assert "&lt;b&gt;change&lt;/b&gt;" in mail.html and "<b>" not in mail.html
    assert mail.html.index("For integrators") > mail.html.index("If it was not you")
    assert "Reference: challenge ABC-123" in mail.text


def test_the_ops_client_signs_every_route_with_sigv4(monkeypatch: Any) -> None:
    from botocore.credentials import Credentials

    from tools import ops

    req = ops.signed_request(
        "https://abc.execute-api.eu-central-1.amazonaws.com/v1/ops/flags?status=open",
        None,
        "eu-central-1",
        Credentials("AKIDEXAMPLE", "secret"),
        method="GET",
    )
    auth = dict(req.header_items())["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/eu-central-1/execute-api/" in auth
    assert req.get_method() == "GET" and req.data is None

    pages = iter([
        (200, {"flags": [{"flag_id": "flg_2"}], "next_cursor": "c1"}),
        (200, {"flags": [{"flag_id": "flg_1"}], "next_cursor": None}),
    ])
    seen: list[str] = []

    def fake(self: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        seen.append(path)
        return next(pages)

    monkeypatch.setattr(ops.Ops, "call", fake)
    client = ops.Ops("https://abc.execute-api.eu-central-1.amazonaws.com/v1")
    code, out = client.flags("open", "high", 1, follow=True)
    assert code == 200 and [f["flag_id"] for f in out["flags"]] == ["flg_2", "flg_1"]
    assert "cursor=c1" in seen[1] and "severity=high" in seen[0]
    assert json.dumps(out)  # printable as JSON
