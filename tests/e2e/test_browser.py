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


def _fresh_account(stack: Stack, name: str = "Browser Test GmbH", n: int = 0) -> dict[str, Any]:
    """An account of its own: reporting puts it under review, which no other test may see."""
    body = {
        "name": name,
        "waba_id": f"42424242424242{n}",
        "phone_numbers": [{"display_phone_number": f"49305550123{n}", "meta_phone_number_id": f"81818181818{n}"}],
        "admin": {"email": f"owner{n or ''}@browser.test"},
    }
    out = stack.request("POST", "/v1/ops/accounts", stack.demo["ops"]["token"], body)
    assert out.status == 201, out.json()
    account = dict(out.json())
    account["admin"]["token"] = stack.accept_invite(body["admin"]["email"])
    return account


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
    link = re.search(r"(http://localhost:\d+/v1/report/\S+)", notice["text"])
    assert link, notice["text"]
    origin = urlsplit(stack.demo["public_base_url"]).netloc  # the pages live on localhost (§Local)
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
        assert "Changed by" in text and account["admin"]["email"] in text and " UTC" in text
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


def _browser(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])


def test_an_invite_page_shows_the_new_user_their_own_token_once(stack: Stack, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    account = _fresh_account(stack, "Invite Test GmbH", 1)  # of its own: the demo's people stay as they are
    admin = account["admin"]
    path = f"/v1/accounts/{account['account']['account_id']}/users"
    body = {"email": "colleague@browser.test", "role": "member"}
    before = len(stack.outbox())
    ch = stack.request("POST", "/v1/otp/challenges", admin["token"], {"method": "POST", "path": path, "body": body})
    mails = stack.wait_for_outbox(
        lambda ms: any("code is" in m["text"] for m in ms[before:] if m["to"] == admin["email"])
    )
    code = re.search(r"code is (\d{6})", [m for m in mails[before:] if "code is" in m["text"]][-1]["text"])
    assert ch.status == 201 and code
    headers = {"X-OTP-Challenge": ch.json()["challenge_id"], "X-OTP-Code": code.group(1)}
    added = stack.request("POST", path, admin["token"], body, headers=headers)
    assert added.status == 201 and "token" not in added.json()
    link = stack.invite_link(body["email"])
    origin = urlsplit(stack.demo["public_base_url"]).netloc  # the pages live on localhost (§Local)
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(link)
        assert page.title() == "Set up your access to Invite Test GmbH · wabaguard"
        assert "wgu_" not in page.content(), "looking at the page reveals nothing"
        assert page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor") == "rgb(11, 93, 59)"
        page.screenshot(path=str(tmp_path / "invite-page.png"), full_page=True)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        token = page.inner_text("pre.secret").strip()
        assert token.startswith("wgu_")
        assert page.eval_on_selector("pre.secret", "e => getComputedStyle(e).userSelect") in ("all", "auto")
        page.screenshot(path=str(tmp_path / "invite-token.png"), full_page=True)
        page.goto(link)
        assert "Invite not valid" in page.inner_text("h1"), "single use"
        assert all(urlsplit(u).netloc == origin for u in requested), requested
        browser.close()
    assert stack.request("GET", "/v1/me", token).json()["email"] == body["email"]


def test_every_email_has_one_readable_layout(
    stack: Stack, noticed: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    account, notice = noticed
    to = account["admin"]["email"]
    kinds = {
        "notice": notice,
        "code": next(m for m in stack.outbox() if m["to"] == to and "code is" in m["text"]),
        "invite": next(m for m in stack.outbox() if m["to"] == to and "/v1/invite/" in m["text"]),
    }
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 720, "height": 900})
        for kind, mail in kinds.items():
            requested: list[str] = []
            page.on("request", lambda r, seen=requested: seen.append(r.url))
            page.set_content(mail["html"])
            font = page.eval_on_selector("body", "e => getComputedStyle(e).fontFamily")
            assert "sans-serif" in font and not font.startswith(("Times", "serif")), (kind, font)
            assert page.eval_on_selector("body", "e => getComputedStyle(e).fontSize") == "16px"
            text = page.inner_text("body")
            assert "wabaguard · account security" in text and "You receive this because" in text, kind
            assert "Questions, or something looks wrong? Write to" in text, kind
            assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), f"{kind}: a raw ISO time"
            person = text.split("For integrators:")[0]
            assert not re.search(r"(GET|POST|PUT|PATCH|DELETE) /v1/", person), f"{kind}: an API call as a remedy"
            assert "hour(s)" not in text and "answer 423" not in text, kind
            if kind == "code":
                size = page.evaluate(
                    "() => [...document.querySelectorAll('p')].map(p => parseFloat(getComputedStyle(p).fontSize))"
                )
                assert max(size) >= 28, "the code is set apart, large"
            assert requested == [], (kind, requested)
            page.screenshot(path=str(tmp_path / f"email-{kind}.png"), full_page=True)
        browser.close()
