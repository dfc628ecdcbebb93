"""The local stack's HTTP servers answer without Nagle's algorithm (issue #26): they write headers
and body separately, and with Nagle on, every keep-alive response after the first few waited ~40 ms
for the client's delayed ACK. What is checked is the accepted socket's option, not a timing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from devstack.graph import GraphStandIn, serve
from devstack.server import LocalServer


@pytest.fixture
def accepted() -> Iterator[socket.socket]:
    """A TCP connection as a server accepts it, on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        try:
            yield conn
        finally:
            conn.close()
            client.close()


def _nodelay_after_setup(handler_class: type[BaseHTTPRequestHandler], conn: socket.socket) -> int:
    handler = handler_class.__new__(handler_class)
    handler.request = conn
    handler.setup()  # what socketserver runs on every accepted connection, before the request
    return conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_local_stacks_server_sets_tcp_nodelay(accepted: socket.socket) -> None:
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # the check is real
    handler_class = LocalServer._handler_class(object.__new__(LocalServer))
    assert _nodelay_after_setup(handler_class, accepted) != 0


def test_the_graph_stand_in_sets_tcp_nodelay(accepted: socket.socket) -> None:
    httpd, _ = serve(GraphStandIn("token"))
    try:
        assert _nodelay_after_setup(httpd.RequestHandlerClass, accepted) != 0  # type: ignore[arg-type]
    finally:
        httpd.shutdown()
        httpd.server_close()
