"""HTTP to URLs a customer controls (security-event webhooks), without SSRF.

The URL's static form is checked by ``urls.check_public_https_url``; then, at every attempt (DNS
may change between registration and delivery, or between two attempts), the host is resolved and
*every* address must be public — a name with one private address among public ones is refused, not
tried elsewhere. The connection goes to the checked address itself (no second resolution an
attacker could rebind), with the host name kept for SNI and certificate checks and the ``Host``
header; no redirect is followed, the whole exchange has a 10 s budget, and the answer's body is
read at most 4 KB and never returned or logged (it could be anything a rebinding target says).

Locally, ``ALLOW_LOOPBACK_WEBHOOKS=1`` lets ``http://127.0.0.1:<port>`` through, for receivers on
the developer's machine; nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3

from wabaguard.config import settings
from wabaguard.urls import UnsafeUrl, check_public_https_url, public_address

TIMEOUT_S = 10.0
RESOLVE_TIMEOUT_S = 5.0
MAX_ANSWER_READ = 4096


class Refused(ValueError):
    """The URL or one of its addresses may not be called; the reason names the class, not the body."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII host name (for SNI, certificate and Host header)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # every resolved address, each checked


def loopback_allowed() -> bool:
    return settings().allow_loopback_webhooks


def _loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return loopback_allowed() and parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port is not None


def check_url(url: str) -> str:
    """The static check, at registration: https and a public host (or a local receiver if allowed)."""
    if _loopback_http(url):
        return url
    try:
        return check_public_https_url(url)
    except UnsafeUrl as exc:
        raise Refused(str(exc)) from None


def resolve(url: str, getaddrinfo: Any = None) -> Target:
    """Resolve the URL's host now and check every address it has; raise Refused otherwise.
    ``getaddrinfo`` defaults to the system resolver as it is *now* (tests may stand in for DNS)."""
    getaddrinfo = getaddrinfo or socket.getaddrinfo
    url = check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = _resolve_within(getaddrinfo, host, port)
    addresses = tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not addresses:
        raise Refused("the host has no address")
    loopback = _loopback_http(url)
    for text in addresses:
        ip = ipaddress.ip_address(text)
        if loopback and ip == ipaddress.ip_address("127.0.0.1"):
            continue
        if not public_address(ip):
            raise Refused(f"the host resolves to a non-public address ({_kind(ip)})")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses)


def _resolve_within(getaddrinfo: Any, host: str, port: int) -> list[Any]:
    """``getaddrinfo`` cannot be cancelled and ignores socket timeouts: it runs on a daemon thread
    and is given up after RESOLVE_TIMEOUT_S, so a silent resolver cannot stretch an attempt past its
    budget (nor keep a process from exiting)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["infos"] = getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="resolve")
    worker.start()
    worker.join(RESOLVE_TIMEOUT_S)
    if worker.is_alive():
        raise Refused(f"the host did not resolve within {RESOLVE_TIMEOUT_S:g} s")
    if "error" in box:
        raise Refused(f"the host does not resolve ({type(box['error']).__name__})")
    return list(box["infos"])


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Which class refused an address, in words for the delivery log (never the address itself)."""
    if ip.is_loopback:
        return "loopback"
    if ip in ipaddress.ip_network("169.254.169.254/32"):
        return "cloud metadata"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "carrier-grade NAT"
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped or ip.sixtofour or ip.teredo):
        return "IPv4 embedded in IPv6"
    documentation = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    if (
        ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or any(ip in ipaddress.ip_network(n) for n in documentation)
    ):
        return "reserved or not globally routable"
    if ip.is_private:
        return "private"
    return "reserved or not globally routable"


def post(url: str, body: bytes, headers: dict[str, str], getaddrinfo: Any = None) -> int:
    """POST ``body`` to the checked address of ``url``; returns the status (redirects are answers,
    not followed). Raises Refused for an unsafe URL, urllib3 errors for network failures."""
    target = resolve(url, getaddrinfo)
    address = target.addresses[0]
    timeout = urllib3.Timeout(total=TIMEOUT_S, connect=min(5.0, TIMEOUT_S))
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            timeout=timeout,
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        resp = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        resp.read(MAX_ANSWER_READ)  # drained a little, never kept
        resp.release_conn()
        return int(resp.status)
    finally:
        pool.close()
