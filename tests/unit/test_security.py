from __future__ import annotations

import hashlib
import json

import pytest
from wabaguard import security


def test_canonical_json_ignores_key_order_and_whitespace() -> None:
    a = json.loads('{"b": 1, "a": {"y": [1, 2], "x": "é"}}')
    b = json.loads('{ "a" : { "x":"é","y":[1,2] },"b":1 }')
    assert security.canonical_json(a) == security.canonical_json(b) == '{"a":{"x":"é","y":[1,2]},"b":1}'
    assert security.body_digest(a) == security.body_digest(b)


@pytest.mark.parametrize("other", [{"b": 2}, {"b": 1, "c": None}, {"b": "1"}, {"B": 1}, [], {"b": 1.0001}])
def test_any_other_difference_changes_the_digest(other: object) -> None:
    assert security.body_digest({"b": 1}) != security.body_digest(other)


def test_no_body_is_the_empty_object() -> None:
    assert security.body_digest(None) == security.body_digest({}) == hashlib.sha256(b"{}").hexdigest()
    assert security.parse_json_body(None) == security.parse_json_body("  ") == security.parse_json_body(b"") == {}


def test_tokens_are_long_random_and_stored_as_sha256() -> None:
    tokens = {security.new_token("wgu") for _ in range(200)}
    assert len(tokens) == 200
    token = tokens.pop()
    assert token.startswith("wgu_") and len(token) >= 4 + 32  # ≥ 192 bits of urlsafe base64
    assert security.token_digest(token) == hashlib.sha256(token.encode()).hexdigest()


def test_code_is_six_digits_and_bound_to_the_challenge() -> None:
    pepper = b"p" * 40
    seed = security.new_code_seed()
    code = security.derive_code(pepper, "ch_1", seed)
    assert len(code) == 6 and code.isdigit()
    assert security.derive_code(pepper, "ch_1", seed) == code  # a resend sends the same code
    digest = security.code_digest(pepper, "ch_1", code)
    assert security.same_digest(digest, security.code_digest(pepper, "ch_1", code))
    assert not security.same_digest(digest, security.code_digest(pepper, "ch_2", code))
    assert not security.same_digest(digest, security.code_digest(b"q" * 40, "ch_1", code))
    assert not security.same_digest(digest, None)


@pytest.mark.parametrize(
    "code,ok",
    [
        ("123456", True),
        ("12345", False),
        ("1234567", False),
        ("12345a", False),
        ("١٢٣٤٥٦", False),
        ("", False),
        (None, False),
    ],
)
def test_only_six_ascii_digits_look_like_a_code(code: str | None, ok: bool) -> None:
    assert security.looks_like_code(code) is ok


def test_mask_email() -> None:
    assert security.mask_email("alice@acme.test") == "a***@acme.test"
