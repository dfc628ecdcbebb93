"""The SSRF-guarded POST against a real receiver on 127.0.0.1 (allowed only by the local flag):
the connection goes to the checked address, the Host header keeps the name, redirects are answers."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from wabaguard import outbound


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "1")
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({"path": self.path, "host": self.headers.get("Host"), "body": body})
            status = 302 if self.path.startswith("/redirect") else 204
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], seen
    httpd.shutdown()


def test_a_post_reaches_the_checked_address_and_a_redirect_is_not_followed(receiver: Any) -> None:
    port, seen = receiver
    assert outbound.post(f"http://127.0.0.1:{port}/hook?x=1", b'{"a":1}', {"Content-Type": "application/json"}) == 204
    assert seen[-1] == {"path": "/hook?x=1", "host": f"127.0.0.1:{port}", "body": b'{"a":1}'}
    assert outbound.post(f"http://127.0.0.1:{port}/redirect", b"{}", {}) == 302
    assert len(seen) == 2  # the Location (cloud metadata) was never asked


def test_dns_is_checked_at_every_attempt(receiver: Any) -> None:
    """A name that resolved to a public address at registration and to a private one now is refused."""
    _port, seen = receiver

    def rebound(host: str, p: int, type: int = 0) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", p))]

    with pytest.raises(outbound.Refused):
        outbound.post("https://hooks.example.com/x", b"{}", {}, getaddrinfo=rebound)
    assert seen == []
