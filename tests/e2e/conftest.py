"""Starts the local stack as a user would (``python -m devstack.server``) and talks HTTP to it."""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack.launch import running_stack


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Stack:
    base: str
    demo: dict[str, Any]
    output: list[str]

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("User-Agent", "e2e-test/1.0")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Reply(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, dict(err.headers), err.read())

    def outbox(self) -> list[dict[str, Any]]:
        return self.request("GET", "/_local/outbox").json()

    def wait_for_outbox(self, predicate: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        mails: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            mails = self.outbox()
            if predicate(mails):
                return mails
            time.sleep(0.2)
        raise AssertionError(f"outbox never matched; it holds {[(m['to'], m['subject']) for m in mails]}")


    def invite_link(self, email: str) -> str:
        """The newest invite link emailed to ``email``."""
        pattern = re.compile(r"(http://localhost:\d+/v1/invite/wgi_[A-Za-z0-9_-]+)")
        mails = self.wait_for_outbox(lambda ms: any(m["to"] == email and pattern.search(m["text"]) for m in ms))
        found = pattern.search([m for m in mails if m["to"] == email and pattern.search(m["text"])][-1]["text"])
        assert found
        return found.group(1)

    def accept_invite(self, email: str) -> str:
        """Take up the newest invite of ``email`` as its page does (GET asks, POST acts): the token."""
        path = urlsplit(self.invite_link(email)).path
        assert self.request("GET", path).status == 200
        page = self.request("POST", path)
        assert page.status == 200, page.body[:500]
        token = re.search(rb'<pre class="secret"[^>]*>(wgu_[A-Za-z0-9_-]+)</pre>', page.body)
        assert token, "the invite page reveals no token"
        return token.group(1).decode()


COOLING_OFF_S = 8


GENEROUS = {
    # One source IP (127.0.0.1) and a few credentials make every request of the whole e2e session
    # (schemathesis included): the per-source and per-credential limits are raised for it. Their
    # behaviour is tested against the same emulation in tests/integration.
    "WafRateLimit": "1000000",
    "WafOtpRateLimit": "1000000",
    "OtpRequestsPerCredential": "1000000",
    "OtpChallengesPerWindow": "50",  # a demo user makes more than 5 key actions in the session
}


@contextlib.contextmanager
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The local stack as ``make dev`` starts it, with the e2e session's limits."""
    # A Partner change cools off for 8 s here, set as a user would (§Local), so e2e sees one submitted.
    shorter = {"PARTNER_CHANGE_COOLING_OFF_S": str(COOLING_OFF_S)}
    with running_stack(tmp_path_factory.mktemp("local"), parameters=GENEROUS, environment=shorter) as (
        base,
        demo,
        output,
    ):
        yield Stack(base, demo, output)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack shared by the modules that do not interfere with each other."""
    with started(tmp_path_factory) as shared:
        yield shared


@pytest.fixture
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own, for a test that loads thousands of records (the simulations): moto
    answers a query on an index by reading the whole table, so on a stack that already holds other
    runs' records every scan is slower — three simulations on one stack took 4× as long as each
    on its own (issue #26)."""
    with started(tmp_path_factory) as own:
        yield own
