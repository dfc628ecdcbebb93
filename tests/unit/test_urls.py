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
