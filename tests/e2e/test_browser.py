"""A real browser (Debian's chromium, driven by Playwright) reads what people are sent: the
"this wasn't me" page renders styled, loads nothing from elsewhere, and its form posts; a notice's
HTML has real links and loads nothing either."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Stack

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="make e2e installs chromium first")


def _fresh_account(stack: Stack) -> dict[str, Any]:
    """An account of its own: reporting puts it under review, which no other test may see."""
    body = {
        "name": "Browser Test GmbH",
        "waba_id": "424242424242424",
        "phone_numbers": [{"display_phone_number": "493055501234", "meta_phone_number_id": "818181818181"}],
        "admin": {"email": "owner@browser.test"},
    }
    out = stack.request("POST", "/v1/ops/accounts", stack.demo["ops"]["token"], body)
    assert out.status == 201, out.json()
    return dict(out.json())


def _change_and_notice(stack: Stack, account: dict[str, Any]) -> dict[str, Any]:
    admin = account["admin"]
    pn = account["phone_numbers"][0]["phone_number_id"]
    path, body = f"/v1/phone-numbers/{pn}/webhook", {"url": "https://hooks.browser.test.example.net/wa?k=s3cret"}
    ch = stack.request("POST", "/v1/otp/challenges", admin["token"], {"method": "PUT", "path": path, "body": body})
    assert ch.status == 201, ch.json()
    code = next(m for m in reversed(stack.outbox()) if m["to"] == admin["email"] and "code is" in m["text"])
    digits = re.search(r"code is (\d{6})", code["text"])
    assert digits
    headers = {"X-OTP-Challenge": ch.json()["challenge_id"], "X-OTP-Code": digits.group(1)}
    assert stack.request("PUT", path, admin["token"], body, headers=headers).status == 200
    return stack.wait_for_outbox(
        lambda ms: any(m["to"] == admin["email"] and "Webhook URL" in m["subject"] for m in ms)
    )[-1]


@pytest.fixture(scope="module")
def noticed(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    account = _fresh_account(stack)
    return account, _change_and_notice(stack, account)


def test_the_report_page_renders_styled_loads_nothing_else_and_its_form_posts(
    stack: Stack, noticed: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    account, notice = noticed
    link = re.search(r"(http://127\.0\.0\.1:\d+/v1/report/\S+)", notice["text"])
    assert link, notice["text"]
    origin = urlsplit(stack.base).netloc
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(link.group(1))
        assert page.title() == "Was this change not made by you? · wabaguard"
        text = page.inner_text("body")
        assert "wabaguard" in text and "hooks.browser.test.example.net" in text  # the change in full
        assert "Changed by" in text and account["admin"]["email"] in text and "Time (UTC)" in text
        assert "s3cret" not in text
        header = page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
        assert header == "rgb(11, 93, 59)", "the inline stylesheet applied under the page's CSP"
        assert not blocked, blocked
        page.screenshot(path=str(tmp_path / "report-page.png"), full_page=True)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "Thank you" in page.inner_text("h1")
        assert all(urlsplit(u).netloc == origin for u in requested), requested
        browser.close()
    flags = stack.request(
        "GET", f"/v1/accounts/{account['account']['account_id']}/flags", account["admin"]["token"]
    ).json()
    assert flags["under_review"] is True and flags["flags"][0]["rule"] == "reported_by_user"


def test_notice_html_has_real_links_and_loads_nothing(noticed: tuple[dict[str, Any], dict[str, Any]]) -> None:
    from playwright.sync_api import sync_playwright

    _, notice = noticed
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.set_content(notice["html"])
        hrefs = page.eval_on_selector_all("a", "as => as.map(a => a.href)")
        assert len(hrefs) == 1 and "/v1/report/" in hrefs[0]
        visible = page.inner_text("body")
        assert "hooks.browser.test.example.net" in visible and "s3cret" not in visible
        assert requested == [], requested
        browser.close()
