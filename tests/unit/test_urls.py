from __future__ import annotations

import pytest
from wabaguard.urls import UnsafeUrl, check_public_https_url, host_of


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.net/wa",
        "https://hooks.example.net:8443/wa?x=1",
        "https://93.184.216.34/hook",
        "https://[2606:4700::1111]/hook",
    ],
)
def test_public_https_urls_pass(url: str) -> None:
    assert check_public_https_url(url) == url


@pytest.mark.parametrize(
    "url,why",
    [
        ("http://hooks.example.net/wa", "https"),
        ("ftp://hooks.example.net/wa", "https"),
        ("https://localhost/wa", "localhost"),
        ("https://api.localhost/wa", "localhost"),
        ("https://127.0.0.1/wa", "private"),
        ("https://10.1.2.3/wa", "private"),
        ("https://172.16.0.1/wa", "private"),
        ("https://192.168.1.10/wa", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://[::1]/wa", "private"),
        ("https://[fe80::1]/wa", "private"),
        ("https://[::ffff:127.0.0.1]/wa", "private"),
        ("https://2130706433/wa", "private"),
        ("https://0x7f000001/wa", "private"),
        ("https://0.0.0.0/wa", "private"),
        ("https://100.64.0.1/wa", "private"),
        ("https://metadata.google.internal/computeMetadata", "internal"),
        ("https://db.internal/wa", "internal"),
        ("https://printer.local/wa", "internal"),
        ("https://intranet/wa", "fully qualified"),
        ("https://user:pw@hooks.example.net/wa", "credentials"),
        ("https:///wa", "host"),
        ("https://hooks.example.net/w a", "whitespace"),
        ("https://" + "a" * 3000 + ".net", "2048"),
    ],
)
def test_unsafe_urls_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_public_https_url(url)


def test_host_of() -> None:
    assert host_of("https://Hooks.Example.net:443/x") == "hooks.example.net"
    assert host_of(None) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1/wa",
        "https://0177.0.0.1/wa",
        "https://0x7f.1/wa",
        "https://169.254.43518/latest",
        "https://0251.0376.0251.0376/latest",  # the metadata address, octal
        "https://１２７．０．０．１/wa",  # fullwidth digits and stops
        "https://127。0。0。1/wa",  # ideographic full stops
        "https://[64:ff9b::7f00:1]/wa",  # NAT64 of 127.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/wa",  # NAT64 of the metadata address
        "https://[2002:7f00:1::]/wa",  # 6to4 of 127.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/wa",  # Teredo
        "https://[::127.0.0.1]/wa",  # IPv4-compatible
        "https://1.2.3.999/wa",  # numeric but no address
    ],
)
def test_ip_shorthand_and_translated_addresses_are_refused(url: str) -> None:
    """Review item 6: each of these was stored as a webhook URL."""
    with pytest.raises(UnsafeUrl):
        check_public_https_url(url)


@pytest.mark.parametrize(
    "url,why",
    [
        ("https://hooks.example.net/\u202ewa", "bidirectional"),
        ("https://exa\u200fmple.net/wa", "bidirectional"),
        ("https://pаypal.com/wa", "mixes scripts"),  # Cyrillic а inside a Latin name
        ("https://gооgle.com/wa", "mixes scripts"),
        ("https://hooks.example.net/\u2028x", "control"),
    ],
)
def test_bidi_controls_and_mixed_script_look_alikes_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_public_https_url(url)


def test_idn_hosts_are_stored_and_shown_in_punycode() -> None:
    stored = check_public_https_url("https://bücher.example/wa?token=s3cret")
    assert stored == "https://xn--bcher-kva.example/wa?token=s3cret"
    assert host_of("https://bücher.example/wa") == "xn--bcher-kva.example"
    assert check_public_https_url("https://例え.jp/hook") == "https://xn--r8jz45g.jp/hook"  # Han + Hiragana


def test_notices_show_scheme_host_and_path_and_mask_the_query() -> None:
    """Review item 18: a query string may carry a secret."""
    from wabaguard.urls import display_url

    assert display_url("https://hooks.example.net:8443/wa?token=s3cret#x") == "https://hooks.example.net:8443/wa?…"
    assert display_url("https://Bücher.example/wa") == "https://xn--bcher-kva.example/wa"
    assert display_url("https://[2606:4700::1111]/h") == "https://[2606:4700::1111]/h"
    assert display_url(None) is None


@pytest.mark.parametrize("host", ["[fec0::1]", "[fec0:1234::5]", "[feff::1]", "[3fff::1]", "[3fff:fff:ffff::1]"])
def test_site_local_and_documentation_ipv6_are_not_public(host: str) -> None:
    """Issue 20.10: Python calls these global; no public host lives there."""
    with pytest.raises(UnsafeUrl):
        check_public_https_url(f"https://{host}/hook")


def test_without_links_strips_what_a_mail_client_would_link() -> None:
    from wabaguard.urls import without_links

    assert without_links("better rates, version 2.5, e.g. cheaper") == "better rates, version 2.5, e.g. cheaper"
    for text in ("https://evil.example/x", "www.evil.example", "bit.ly/abc", "evil.example.org", "me@evil.example"):
        assert without_links(f"go {text} now") == "go [link removed] now", text
