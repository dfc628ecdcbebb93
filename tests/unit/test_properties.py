"""Property tests for the pieces every security decision rests on."""

from __future__ import annotations

import ipaddress
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wabaguard import security
from wabaguard.observability import redact
from wabaguard.urls import UnsafeUrl, check_public_https_url

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _shuffled(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.integers())
def test_canonical_digest_ignores_key_order_and_whitespace(body: dict[str, object], seed: int) -> None:
    other = json.loads(json.dumps(_shuffled(body, random.Random(seed)), indent=seed % 4))
    assert security.body_digest(body) == security.body_digest(other)


@given(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=6), st.text(min_size=1, max_size=8))
def test_adding_a_field_changes_the_digest(body: dict[str, object], key: str) -> None:
    changed = {**body, key + "\x00x": 1}
    assert security.body_digest(body) != security.body_digest(changed)


@given(st.binary(min_size=32, max_size=64), st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=30))
def test_derived_codes_are_six_digits_and_only_their_digest_matches(pepper: bytes, challenge: str, seed: str) -> None:
    code = security.derive_code(pepper, challenge, seed)
    assert security.looks_like_code(code)
    digest = security.code_digest(pepper, challenge, code)
    assert security.same_digest(digest, security.code_digest(pepper, challenge, code))
    other = f"{(int(code) + 1) % 10**6:06d}"
    assert not security.same_digest(digest, security.code_digest(pepper, challenge, other))


@given(st.ip_addresses())
@settings(max_examples=300)
def test_non_public_ip_literals_are_always_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"https://{host}/hook"
    translated = ("::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
    translated += ("fec0::/10", "3fff::/20")  # site-local, documentation (issue 20.10)
    embeds_ipv4 = ip.version == 6 and any(ip in ipaddress.ip_network(n) for n in translated)
    if ip.is_global and not ip.is_multicast and not ip.is_reserved and not embeds_ipv4:
        assert check_public_https_url(url) == url
    else:
        with pytest.raises(UnsafeUrl):
            check_public_https_url(url)


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}\.(com|net|org|io|de)", fullmatch=True),
    st.sampled_from(["http", "ftp", "HTTPS://"]),
)
def test_only_https_is_accepted(host: str, scheme: str) -> None:
    assert check_public_https_url(f"https://{host}/x")
    with pytest.raises(UnsafeUrl):
        check_public_https_url(f"{scheme.rstrip(':/').lower() if scheme != 'HTTPS://' else 'https '}://{host}/x")


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=16, max_size=40),
    st.sampled_from(["wgu", "wgk", "wgr", "wgo"]),
)
def test_redaction_masks_every_token_shape(body: str, prefix: str) -> None:
    token = f"{prefix}_{body}"
    for text in (token, f"Bearer {token}", json.dumps({"msg": f"failed for {token}"}), f"code={body[:6]}"):
        assert body not in redact(text)
