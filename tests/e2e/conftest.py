"""Starts the local stack as a user would (``python -m devstack.server``) and talks HTTP to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.server import free_port

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    local_dir = tmp_path_factory.mktemp("local")
    env = {
        **os.environ,
        "PORT": str(port),
        "WABAGUARD_LOCAL_DIR": str(local_dir),
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}",
    }
    for key in [k for k in env if k.startswith("AWS_") or k.endswith("_TABLE")]:
        env.pop(key)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("wabaguard local stack ready"):
            break
    else:
        proc.kill()
    if not output or not output[-1].startswith("wabaguard local stack ready"):
        proc.kill()
        raise RuntimeError("local stack did not start:\n" + "".join(output))
    assert output[-1].strip() == f"wabaguard local stack ready on http://127.0.0.1:{port}"

    import threading

    def drain() -> None:
        for line in proc.stdout or []:
            output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    demo = json.loads((local_dir / "demo.json").read_text())
    yield Stack(f"http://127.0.0.1:{port}", demo, output)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, "".join(output[-40:])
