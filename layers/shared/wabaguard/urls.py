"""Webhook URL safety: https only, and never a host that points inside a network.

Hosts are read the way HTTP clients and resolvers read them, so that what is checked is what
would be connected to: Unicode hosts are mapped and encoded with IDNA (UTS #46: fullwidth digits,
ideographic full stops), a name whose last label is numeric is an IPv4 address in any
``inet_aton`` spelling (``127.1``, ``0177.0.0.1``, ``0x7f.1``, ``2130706433``), and IPv6
addresses that carry or translate to IPv4 (mapped, compatible, NAT64, 6to4, Teredo) are refused
outright. Bidirectional-text controls and labels that mix scripts (homoglyph look-alikes) are
refused. DNS is not resolved here: a public name that resolves to a private address is stopped
where webhooks are delivered.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from urllib.parse import urlsplit, urlunsplit

import idna

MAX_URL = 2048
_BLOCKED_NAMES = {"localhost", "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".intranet", ".lan")
# IPv6 ranges that embed or translate to IPv4 (or are otherwise not a plain public host).
_TRANSLATED = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "::ffff:0:0:0/96",  # IPv4-translated
    )
)
# IPv6 ranges Python's ``is_global`` still calls global, yet no public host lives in: site-local
# (deprecated by RFC 3879, routed inside sites where it is still used) and the documentation
# prefix of RFC 9637.
_NOT_PUBLIC_V6 = tuple(ipaddress.IPv6Network(n) for n in ("fec0::/10", "3fff::/20"))
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
_CJK_FAMILY = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "KATAKANA-HIRAGANA", "BOPOMOFO", "IDEOGRAPHIC"}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL is not an acceptable public https URL; the message says why."""


def _script(ch: str) -> str | None:
    """The script of a letter by its Unicode name (LATIN, CYRILLIC, GREEK, …); None for digits
    and punctuation, which every script shares."""
    if not ch.isalpha():
        return None
    word = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    return "CJK" if word in _CJK_FAMILY else word


def _mixed_script(label: str) -> bool:
    return len({s for s in map(_script, label) if s}) > 1


def ascii_host(host: str) -> str:
    """The host as resolvers see it: IDNA (UTS #46) ASCII, lower case, no trailing dot."""
    if host.startswith("[") or ":" in host:
        return host.strip("[]").lower()
    if host.isascii():  # HTTP clients pass ASCII names through as they are
        return host.rstrip(".").lower()
    try:
        encoded = idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise UnsafeUrl(f"has an invalid host name ({exc})") from None
    return encoded.rstrip(".").lower()


def _ipv4_any_form(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling resolvers accept; None if the host is a name."""
    last = host.rsplit(".", 1)[-1]
    numeric = last.isdigit() or (last[:2] == "0x" and all(c in "0123456789abcdef" for c in last[2:]))
    if not numeric:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise UnsafeUrl("looks like an IP address but is not a valid one") from None


def ip_of(host: str) -> Address | None:
    """The address a host literal denotes (IPv6 or IPv4 in any form); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _ipv4_any_form(host)


def public_address(ip: Address) -> bool:
    """Whether an address is a plain public unicast one (what a webhook may be delivered to)."""
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in net for net in (*_TRANSLATED, *_NOT_PUBLIC_V6)):
        return False
    return bool(ip.is_global) and not ip.is_multicast and not ip.is_reserved


def check_public_https_url(url: str) -> str:
    """Return the URL (with its host in ASCII) if it is https with a public host, else raise UnsafeUrl."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("must be a non-empty string")
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"must be at most {MAX_URL} characters")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in url):
        raise UnsafeUrl("must not contain whitespace or control characters")
    if any(ch in _BIDI for ch in url):
        raise UnsafeUrl("must not contain bidirectional text controls")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL ({exc})") from exc
    if parts.scheme != "https":
        raise UnsafeUrl("must use https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("must not contain credentials")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise UnsafeUrl("must name a host")
    if port == 0:
        raise UnsafeUrl("must not use port 0")
    if not raw_host.isascii() and any(_mixed_script(label) for label in raw_host.split(".")):
        raise UnsafeUrl("has a host label that mixes scripts (a look-alike of another name)")
    host = ascii_host(raw_host)
    if not host:
        raise UnsafeUrl("must name a host")
    ip = ip_of(host)
    if ip is not None:
        if not public_address(ip):
            raise UnsafeUrl("must not point to a private, loopback, link-local, reserved or translated address")
        return url
    if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
        raise UnsafeUrl("must not point to localhost or an internal name")
    if "." not in host:
        raise UnsafeUrl("must use a fully qualified public host name")
    labels = host.split(".")
    if not all(labels) or not all(len(label) <= 63 for label in labels) or len(host) > 253:
        raise UnsafeUrl("has an invalid host name")
    if not all(ch.isalnum() or ch in "-." for ch in host):
        raise UnsafeUrl("has an invalid host name")
    if raw_host.isascii():
        return url
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def host_of(url: str | None) -> str | None:
    """The host of a URL in ASCII (IDN hosts in punycode), for notices that highlight it."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
        return ascii_host(host) if host else None
    except (ValueError, UnsafeUrl):
        return None


def display_url(url: str | None) -> str | None:
    """What people are shown of a URL: scheme, host (punycode) and path; a query string may carry
    a secret, so it is masked, and a fragment dropped."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = host_of(url) or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?…" if parts.query else "")


# Anything a mail client would turn into a link: a scheme, ``www.``, or a dotted name ending in a
# letter label (``evil.example``, ``bit.ly/x``), with whatever path follows it.
_LINKISH = re.compile(
    r"(?i)(?:\S+@\S+|\b[a-z][a-z0-9+.-]*:(?://)?\S+|www\.\S+|(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*[a-z0-9](?:[/:?#]\S*)?)"
)


def without_links(text: str | None) -> str | None:
    """Free text a person typed, fit for an official email: every URL, host name and mail
    address replaced by ``[link removed]`` (a requester's "reason" must not become a phishing link
    in a notice every user trusts). The notice shows it quoted, as someone's words."""
    if text is None:
        return None
    return _LINKISH.sub("[link removed]", text)
