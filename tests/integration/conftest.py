from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from devstack.cfn import Stack
from devstack.gateway import HttpRequest, HttpResponse
from devstack.outbox import outbox
from devstack.server import World
from tests.conftest import REGION
from tests.passkey_authenticator import SoftAuthenticator
from tests.passkey_authenticator import header as passkey_header


def _fresh_world() -> Iterator[World]:
    with mock_aws():
        from wabaguard.models import every_model

        for model in every_model():
            model._connection = None
        yield World(Stack(region=REGION))


@pytest.fixture
def world() -> Iterator[World]:
    """A fresh moto world with every resource of template.yaml, and the in-process gateway."""
    yield from _fresh_world()


@pytest.fixture(scope="module")
def module_world() -> Iterator[tuple[World, dict[str, Any]]]:
    """One seeded world for a module of read-mostly tests (hostile input changes nothing)."""
    from devstack.seed import seed_demo

    for world in _fresh_world():
        yield world, seed_demo("http://127.0.0.1/v1", graph=world.graph)


# Partners the tests move WABAs to (a Partner change needs a target wabaguard knows, §Partner change)
KNOWN_PARTNERS = {"prt_next": "Next Partners", "prt_other": "Other Partners", "prt_elsewhere": "Elsewhere BSP"}


@pytest.fixture
def demo(world: World) -> dict[str, Any]:
    from devstack.seed import create_account, seed_demo

    out = seed_demo("http://127.0.0.1/v1", graph=world.graph)
    for partner_id, name in KNOWN_PARTNERS.items():
        create_account(name, kind="partner", account_id=partner_id)
    return out


class Api:
    """Talks to the in-process gateway like an HTTP client (real events, real authorizer)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        otp: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        ip: str = "203.0.113.7",
    ) -> HttpResponse:
        h = [("User-Agent", "pytest/agent")]
        if token:
            h.append(("Authorization", f"Bearer {token}"))
        if otp:
            h += [("X-OTP-Challenge", otp[0]), ("X-OTP-Code", otp[1])]
        for k, v in (headers or {}).items():
            h.append((k, v))
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        return self.world.gateway.handle(HttpRequest(method, path, h, data, ip))

    def outbox(self) -> list[dict[str, Any]]:
        return outbox(REGION)

    def last_code(self, to: str) -> str:
        import re

        for mail in reversed(self.outbox()):
            if mail["to"] == to:
                m = re.search(r"code is (\d{6})", mail["text"])
                if m:
                    return m.group(1)
        raise AssertionError(f"no code mailed to {to}")

    def invite_link(self, to: str) -> str:
        """The newest invite link emailed to ``to`` (the stream is pumped first)."""
        import re

        self.world.pump.pump()
        for mail in reversed(self.outbox()):
            if mail["to"] == to:
                m = re.search(r"(https?://\S+/v1/invite/(wgi_[A-Za-z0-9_-]+))", mail["text"])
                if m:
                    return m.group(1)
        raise AssertionError(f"no invite mailed to {to}")

    def accept_invite(self, to: str, ip: str = "203.0.113.7") -> str:
        """Take up the newest invite of ``to`` the way its page does (GET asks, POST acts): the token."""
        path = "/v1/invite/" + self.invite_link(to).rsplit("/", 1)[1]
        assert self.call("GET", path, ip=ip).status == 200
        page = self.call("POST", path, ip=ip)
        assert page.status == 200, page.body.decode()
        return secret_of(page.body.decode())

    def challenge(self, token: str, method: str, path: str, body: Any = None, **extra: Any) -> HttpResponse:
        return self.call("POST", "/v1/otp/challenges", token, {"method": method, "path": path, "body": body, **extra})

    def approved(self, user: dict[str, Any], method: str, path: str, body: Any = None) -> HttpResponse:
        """Challenge, read the code from the outbox, and make the request with it."""
        ch = self.challenge(user["token"], method, path, body)
        assert ch.status == 201, ch.json()
        code = self.last_code(user["email"])
        return self.call(method, path, user["token"], body, otp=(ch.json()["challenge_id"], code))

    # ------------------------------------------------------------ passkeys (§Passkeys)
    def register_passkey(self, user: dict[str, Any], auth: SoftAuthenticator, name: str = "Laptop") -> dict[str, Any]:
        """Options, the authenticator's answer, and the key action approved with the user's code."""
        opts = self.call("POST", "/v1/me/passkeys/options", user["token"])
        assert opts.status == 200, opts.json()
        body = {"name": name, "credential": auth.register(opts.json()["publicKey"])}
        resp = self.approved(user, "POST", "/v1/me/passkeys", body)
        assert resp.status == 201, resp.json()
        return dict(resp.json())

    def with_passkey(
        self,
        user: dict[str, Any],
        auth: SoftAuthenticator,
        method: str,
        path: str,
        body: Any = None,
        sent_body: Any = None,
        sent_path: str | None = None,
        **sign: Any,
    ) -> tuple[HttpResponse, dict[str, Any]]:
        """A passkey challenge for (method, path, body), signed by ``auth`` and sent inline —
        with ``sent_body``/``sent_path`` instead, when given (a tampered request)."""
        ch = self.challenge(user["token"], method, path, body)
        assert ch.status == 201 and ch.json()["channel"] == "passkey", ch.json()
        assertion = auth.sign(ch.json()["passkey"]["publicKey"], **sign)
        headers = {"X-OTP-Challenge": ch.json()["challenge_id"], "X-OTP-Passkey": passkey_header(assertion)}
        resp = self.call(
            method, sent_path or path, user["token"], body if sent_body is None else sent_body, headers=headers
        )
        return resp, {**ch.json(), "assertion": assertion}


RP_ID = "security.wabaguard.example"  # the host of PublicBaseUrl's default: the passkeys' relying party
ORIGIN = f"https://{RP_ID}"


def authenticator(**kw: Any) -> SoftAuthenticator:
    return SoftAuthenticator(RP_ID, ORIGIN, **kw)


def secret_of(page: str) -> str:
    """The token an invite page reveals (its one <pre class="secret">)."""
    import re

    m = re.search(r'<pre class="secret"[^>]*>(wgu_[A-Za-z0-9_-]+)</pre>', page)
    assert m, "the page reveals no token"
    return m.group(1)


T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def moving(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """A movable domain clock starting at T0: ``moving["now"] += timedelta(minutes=5)``."""
    from wabaguard import clock

    state = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: state["now"].timestamp())
    return state


@pytest.fixture
def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
def acme(demo: dict[str, Any]) -> dict[str, Any]:
    """The demo's first Client account, Acme Shoes."""
    return demo["accounts"][0]


@pytest.fixture
def admin(acme: dict[str, Any]) -> dict[str, Any]:
    return acme["users"][0]


@pytest.fixture
def pn(acme: dict[str, Any]) -> str:
    return str(acme["phone_numbers"][0]["phone_number_id"])
