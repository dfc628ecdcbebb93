"""SSRF guard for customer-controlled URLs: every address class refused, DNS answers checked in
full, loopback only when the local stack allows it (no sockets here: resolution is injected)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from wabaguard import outbound


def dns(*addresses: str) -> Any:
    def getaddrinfo(host: str, port: int, type: int = 0) -> list[Any]:
        out = []
        for a in addresses:
            family = socket.AF_INET6 if ":" in a else socket.AF_INET
            out.append((family, socket.SOCK_STREAM, 6, "", (a, port)))
        return out

    return getaddrinfo


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.7", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "IPv4 embedded in IPv6"),
        ("::ffff:8.8.8.8", "IPv4 embedded in IPv6"),
        ("2002:0a00:0001::1", "IPv4 embedded in IPv6"),
        ("0.0.0.0", "reserved or not globally routable"),
        ("192.0.2.10", "reserved or not globally routable"),
        ("224.0.0.1", "reserved or not globally routable"),
    ],
)
def test_a_name_resolving_to_any_non_public_address_is_refused(address: str, kind: str) -> None:
    with pytest.raises(outbound.Refused) as refused:
        outbound.resolve("https://hooks.example.com/x", dns(address))
    assert kind in str(refused.value) and address not in str(refused.value)


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    with pytest.raises(outbound.Refused):
        outbound.resolve("https://hooks.example.com/x", dns("93.184.215.14", "10.1.2.3"))


def test_a_public_name_is_resolved_and_kept_for_sni() -> None:
    target = outbound.resolve("https://Hooks.Example.com:8443/in?a=1", dns("93.184.215.14", "2606:2800:21f:cb07::1"))
    assert target.host == "hooks.example.com" and target.port == 8443 and target.path == "/in?a=1"
    assert target.addresses == ("93.184.215.14", "2606:2800:21f:cb07::1")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "https://localhost/",
        "https://10.0.0.1/",
        "https://[::1]/",
        "https://0x7f000001/",
        "https://user:pw@hooks.example.com/",
        "http://127.0.0.1:9000/",
    ],
)
def test_the_static_form_is_refused_before_any_lookup(url: str) -> None:
    def no_dns(*_: Any, **__: Any) -> Any:
        raise AssertionError("resolved a URL that should have been refused on its form")

    with pytest.raises(outbound.Refused):
        outbound.resolve(url, no_dns)


def test_an_unresolvable_name_is_refused() -> None:
    def fail(*_: Any, **__: Any) -> Any:
        raise socket.gaierror("nope")

    with pytest.raises(outbound.Refused):
        outbound.resolve("https://nowhere.example.com/", fail)


def test_loopback_http_only_when_the_local_stack_allows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:9000/hook"
    with pytest.raises(outbound.Refused):
        outbound.resolve(url, dns("127.0.0.1"))
    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "1")
    assert outbound.resolve(url, dns("127.0.0.1")).addresses == ("127.0.0.1",)
    for other in ("http://localhost:9000/", "http://10.0.0.1:9000/", "http://127.0.0.2:9000/"):
        with pytest.raises(outbound.Refused):
            outbound.resolve(other, dns("127.0.0.1"))


def test_a_silent_resolver_is_given_up_within_the_attempt_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo ignores socket timeouts; a resolver that never answers must not hold an attempt."""
    import threading
    import time

    monkeypatch.setattr(outbound, "RESOLVE_TIMEOUT_S", 0.2)
    release = threading.Event()

    def silent(host: str, port: int, type: int = 0) -> list[Any]:
        release.wait(5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    started = time.monotonic()
    with pytest.raises(outbound.Refused, match=r"did not resolve within 0\.2 s"):
        outbound.resolve("https://hooks.example.com/x", getaddrinfo=silent)
    assert time.monotonic() - started < 2
    release.set()
