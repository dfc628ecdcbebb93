"""§Passkeys in a real browser (issue 23): Debian's chromium, driven by Playwright, with Chromium's
virtual authenticator (DevTools ``WebAuthn``: ctap2, internal transport, resident key, user
verification). A user registers a passkey, approves inline and on wabaguard's approval page, and
every refusal is tried with what a browser really produces: a tampered body, another path, a
replayed assertion, another user's passkey, a page on another origin, no user verification (a
second authenticator with ``isUserVerified: false``), and a cloned passkey whose counter goes back."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_browser import _fresh_account

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="make e2e installs chromium first")

DEC = "const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));"
ENC = (
    "const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))"
    ".replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');"
)
CREATE = f"""async (o) => {{ {DEC} {ENC}
  const c = await navigator.credentials.create({{ publicKey: {{ ...o, challenge: dec(o.challenge),
    user: {{ ...o.user, id: dec(o.user.id) }},
    excludeCredentials: (o.excludeCredentials || []).map((x) => ({{ ...x, id: dec(x.id) }})) }} }});
  return {{ id: c.id, rawId: enc(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
    authenticatorAttachment: c.authenticatorAttachment,
    response: {{ clientDataJSON: enc(c.response.clientDataJSON), attestationObject: enc(c.response.attestationObject),
      transports: c.response.getTransports() }} }};
}}"""
GET = f"""async ([o, uv, allow]) => {{ {DEC} {ENC}
  const c = await navigator.credentials.get({{ publicKey: {{ challenge: dec(o.challenge), rpId: o.rpId,
    timeout: o.timeout, userVerification: uv || o.userVerification,
    allowCredentials: allow ? o.allowCredentials.map((x) => ({{ type: x.type, id: dec(x.id) }})) : [] }} }});
  const r = c.response;
  return {{ id: c.id, rawId: enc(c.rawId), type: c.type, clientExtensionResults: {{}},
    response: {{ clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData),
      signature: enc(r.signature), userHandle: r.userHandle ? enc(r.userHandle) : null }} }};
}}"""
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True}


def _header(assertion: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(assertion).encode()).rstrip(b"=").decode()


class Device:
    """One browser tab on the stack's public origin with a virtual authenticator of its own."""

    def __init__(self, browser: Any, origin: str, user_verified: bool = True) -> None:
        self.page = browser.new_page()
        self.cdp = self.page.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable")
        options = {**AUTHENTICATOR, "isUserVerified": user_verified, "automaticPresenceSimulation": True}
        self.authenticator = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
        self.page.goto(f"{origin}/_local/health")  # a document of that origin (a secure context: localhost)

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        return dict(self.page.evaluate(CREATE, options))

    def get(self, options: dict[str, Any], uv: str | None = None, allow: bool = True) -> dict[str, Any]:
        return dict(self.page.evaluate(GET, [options, uv, allow]))

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})["credentials"])

    def copy_from(self, other: Device, sign_count: int | None = None) -> None:
        """A clone: the other device's credential, private key included, on this authenticator."""
        for cred in other.credentials():
            if sign_count is not None:
                cred = {**cred, "signCount": sign_count}
            self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.authenticator, "credential": cred})


class Person:
    """An account's admin who approves with a code until they have a passkey."""

    def __init__(self, stack: Stack, account: dict[str, Any]) -> None:
        self.stack, self.account = stack, account
        self.token, self.email = account["admin"]["token"], account["admin"]["email"]
        self.pn = account["phone_numbers"][0]["phone_number_id"]

    def challenge(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        ch = self.stack.request(
            "POST", "/v1/otp/challenges", self.token, {"method": method, "path": path, "body": body}
        )
        assert ch.status == 201, ch.json()
        return dict(ch.json())

    def with_code(self, method: str, path: str, body: Any) -> Any:
        before = len(self.stack.outbox())
        ch = self.challenge(method, path, body)
        mails = self.stack.wait_for_outbox(
            lambda ms: any(m["to"] == self.email and "code is" in m["text"] for m in ms[before:])
        )
        code = re.search(r"code is (\d{6})", [m for m in mails[before:] if m["to"] == self.email][-1]["text"])
        assert code
        headers = {"X-OTP-Challenge": ch["challenge_id"], "X-OTP-Code": code.group(1)}
        return self.stack.request(method, path, self.token, body, headers=headers)

    def register(self, device: Device, name: str = "This laptop") -> dict[str, Any]:
        options = self.stack.request("POST", "/v1/me/passkeys/options", self.token).json()["publicKey"]
        made = self.with_code("POST", "/v1/me/passkeys", {"name": name, "credential": device.create(options)})
        assert made.status == 201, made.json()
        return dict(made.json())

    def send(self, method: str, path: str, body: Any, challenge_id: str, assertion: dict[str, Any] | None) -> Any:
        headers = {"X-OTP-Challenge": challenge_id}
        if assertion is not None:
            headers["X-OTP-Passkey"] = _header(assertion)
        return self.stack.request(method, path, self.token, body, headers=headers)

    @property
    def webhook(self) -> str:
        return f"/v1/phone-numbers/{self.pn}/webhook"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def people(stack: Stack, browser: Any) -> dict[str, Any]:
    """Two accounts of their own (nobody else's demo changes), each admin with a passkey."""
    origin = stack.demo["public_base_url"]
    alice, bob = (
        Person(stack, _fresh_account(stack, "Passkey GmbH", 5)),
        Person(stack, _fresh_account(stack, "Other Passkey AG", 6)),
    )
    devices = {"alice": Device(browser, origin), "bob": Device(browser, origin)}
    alice.register(devices["alice"])
    bob.register(devices["bob"])
    return {"alice": alice, "bob": bob, "devices": devices, "origin": origin}


def test_register_then_approve_inline_with_a_receipt(stack: Stack, people: dict[str, Any]) -> None:
    alice, device = people["alice"], people["devices"]["alice"]
    listed = stack.request("GET", "/v1/me/passkeys", alice.token).json()["passkeys"]
    assert [p["name"] for p in listed] == ["This laptop"]
    assert device.credentials()[0]["rpId"] == "localhost"
    body = {"url": "https://hooks.example.net/inline"}
    ch = alice.challenge("PUT", alice.webhook, body)
    assert ch["channel"] == "passkey" and ch["passkey"]["publicKey"]["rpId"] == "localhost"
    done = alice.send("PUT", alice.webhook, body, ch["challenge_id"], device.get(ch["passkey"]["publicKey"]))
    assert done.status == 200, done.json()
    receipt = stack.request("GET", done.headers["Approval-Receipt"], alice.token).json()
    assert receipt["origin"] == people["origin"] and receipt["rp_id"] == "localhost"
    from tools.verify_receipt import verify

    assert verify(receipt, body).startswith("valid:")


def test_approve_on_wabaguards_approval_page(stack: Stack, people: dict[str, Any], tmp_path: Path) -> None:
    alice, device = people["alice"], people["devices"]["alice"]
    body = {"url": "https://hooks.example.net/page"}
    ch = alice.challenge("PUT", alice.webhook, body)
    assert ch["approval_url"].startswith(people["origin"] + "/v1/approve/")
    page = device.page
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(ch["approval_url"])
    assert page.title() == "Approve this change? · wabaguard"
    text = page.inner_text("main")
    assert "hooks.example.net/page" in text and "Requested from IP" in text
    early = alice.send("PUT", alice.webhook, body, ch["challenge_id"], None)
    assert early.status == 403 and early.json()["error"] == "otp_required"  # looking approved nothing
    page.click("#act")
    page.wait_for_selector("body[data-approved='1']", timeout=10000)
    assert "Approved" in page.inner_text("#status") and not blocked, blocked
    page.screenshot(path=str(tmp_path / "approval-page.png"), full_page=True)
    done = alice.send("PUT", alice.webhook, body, ch["challenge_id"], None)
    assert done.status == 200, done.json()
    page.goto(f"{people['origin']}/_local/health")


def test_a_tampered_body_another_path_and_a_replay_are_refused(stack: Stack, people: dict[str, Any]) -> None:
    alice, device = people["alice"], people["devices"]["alice"]
    body = {"url": "https://hooks.example.net/approved"}
    ch = alice.challenge("PUT", alice.webhook, body)
    signed = device.get(ch["passkey"]["publicKey"])
    tampered = alice.send("PUT", alice.webhook, {"url": "https://evil.example.net/wa"}, ch["challenge_id"], signed)
    assert tampered.status == 403 and tampered.json()["error"] == "otp_mismatch", tampered.json()
    other = f"/v1/accounts/{alice.account['account']['account_id']}/security-webhook"
    moved = alice.send("PUT", other, body, ch["challenge_id"], signed)
    assert moved.status == 403 and moved.json()["error"] == "otp_mismatch", moved.json()
    ok = alice.send("PUT", alice.webhook, body, ch["challenge_id"], signed)
    assert ok.status == 200, ok.json()
    replayed = alice.send("PUT", alice.webhook, body, ch["challenge_id"], signed)
    assert replayed.status == 403 and replayed.json()["error"] == "otp_used"
    second = alice.challenge("PUT", alice.webhook, body)
    elsewhere = alice.send("PUT", alice.webhook, body, second["challenge_id"], signed)  # another challenge's
    assert elsewhere.status == 403 and elsewhere.json()["error"] == "otp_invalid"


def test_another_users_passkey_is_refused(stack: Stack, people: dict[str, Any]) -> None:
    alice, bobs = people["alice"], people["devices"]["bob"]
    body = {"url": "https://hooks.example.net/bob"}
    ch = alice.challenge("PUT", alice.webhook, body)
    signed = bobs.get(ch["passkey"]["publicKey"], allow=False)  # Bob's discoverable passkey signs Alice's challenge
    resp = alice.send("PUT", alice.webhook, body, ch["challenge_id"], signed)
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()


def test_a_page_on_another_origin_cannot_get_an_approval(stack: Stack, people: dict[str, Any], browser: Any) -> None:
    alice, device = people["alice"], people["devices"]["alice"]
    body = {"url": "https://hooks.example.net/phish"}
    ch = alice.challenge("PUT", alice.webhook, body)
    phishing = "http://localhost:1"  # same RP id (localhost), another origin: what a look-alike page is
    page = device.page
    page.route(
        f"{phishing}/**", lambda route: route.fulfill(status=200, content_type="text/html", body="<p>Sign in</p>")
    )
    page.goto(f"{phishing}/login")
    signed = device.get(ch["passkey"]["publicKey"])
    assert json.loads(base64.urlsafe_b64decode(signed["response"]["clientDataJSON"] + "=="))["origin"] == phishing
    resp = alice.send("PUT", alice.webhook, body, ch["challenge_id"], signed)
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()
    page.unroute(f"{phishing}/**")
    page.goto(f"{people['origin']}/_local/health")


def test_no_user_verification_is_refused(stack: Stack, people: dict[str, Any], browser: Any) -> None:
    alice = people["alice"]
    unverified = Device(browser, people["origin"], user_verified=False)
    unverified.copy_from(people["devices"]["alice"])
    body = {"url": "https://hooks.example.net/no-uv"}
    ch = alice.challenge("PUT", alice.webhook, body)
    signed = unverified.get(ch["passkey"]["publicKey"], uv="discouraged")  # the client skips verification
    resp = alice.send("PUT", alice.webhook, body, ch["challenge_id"], signed)
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()
    unverified.page.close()


def test_a_cloned_passkey_whose_counter_goes_back_raises_a_high_flag(
    stack: Stack, people: dict[str, Any], browser: Any
) -> None:
    bob, original = people["bob"], people["devices"]["bob"]
    body = {"url": "https://hooks.example.net/first"}
    ch = bob.challenge("PUT", bob.webhook, body)
    assert (
        bob.send("PUT", bob.webhook, body, ch["challenge_id"], original.get(ch["passkey"]["publicKey"])).status == 200
    )
    clone = Device(browser, people["origin"])
    clone.copy_from(original, sign_count=0)  # the copy's counter starts below what wabaguard saw
    other = {"url": "https://hooks.example.net/clone"}
    ch = bob.challenge("PUT", bob.webhook, other)
    resp = bob.send("PUT", bob.webhook, other, ch["challenge_id"], clone.get(ch["passkey"]["publicKey"]))
    assert resp.status == 403 and resp.json()["error"] == "otp_invalid", resp.json()
    flags = stack.request("POST", "/_local/risk-scan").json()
    account_id = bob.account["account"]["account_id"]
    listed = stack.request("GET", f"/v1/accounts/{account_id}/flags", bob.token).json()
    assert any(f["rule"] == "passkey_clone_suspected" and f["severity"] == "high" for f in listed["flags"]), (
        flags,
        listed,
    )
    clone.page.close()
