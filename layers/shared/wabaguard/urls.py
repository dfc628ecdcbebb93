"""Webhook URL safety: https only, and never a host that points inside a network.

Checks IP literals (in every spelling ``ipaddress`` accepts, plus bare integers) and the names
that obviously resolve inward. DNS is not resolved here: a public name that resolves to a private
address must be stopped where webhooks are delivered (documented in the README).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_URL = 2048
_BLOCKED_NAMES = {"localhost", "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".intranet", ".lan")


class UnsafeUrl(ValueError):
    """The URL is not an acceptable public https URL; the message says why."""


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # Integer and hex spellings (http://2130706433, http://0x7f000001) that resolvers accept.
    try:
        value = int(host, 0)
    except ValueError:
        return None
    if 0 <= value < 2**32:
        return ipaddress.IPv4Address(value)
    return None


def check_public_https_url(url: str) -> str:
    """Return the URL if it is https with a public host, else raise UnsafeUrl."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("must be a non-empty string")
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"must be at most {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeUrl("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL ({exc})") from exc
    if parts.scheme != "https":
        raise UnsafeUrl("must use https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not contain credentials")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeUrl("must name a host")
    if port == 0:
        raise UnsafeUrl("must not use port 0")
    ip = _ip_literal(host)
    if ip is not None:
        mapped = getattr(ip, "ipv4_mapped", None)
        ip = mapped or ip
        if not ip.is_global or ip.is_multicast:
            raise UnsafeUrl("must not point to a private, loopback, link-local or reserved address")
        return url
    if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
        raise UnsafeUrl("must not point to localhost or an internal name")
    if "." not in host:
        raise UnsafeUrl("must use a fully qualified public host name")
    labels = host.split(".")
    if not all(labels) or not all(len(label) <= 63 for label in labels):
        raise UnsafeUrl("has an invalid host name")
    if not all(ch.isalnum() or ch in "-." for ch in host if ch.isascii()):
        raise UnsafeUrl("has an invalid host name")
    return url


def host_of(url: str | None) -> str | None:
    """The host of a URL, for notices that highlight it."""
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
