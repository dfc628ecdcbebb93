"""Activity records are checked by hand (``wabaguard.ingest``: pydantic's import was a fifth of the
ingest function's cold start, issue 26). They are held here to the pydantic model the API would
use for them — strict types, unknown fields refused — on generated good and bad records: the same
records are accepted, with the same values, and a refused one is refused naming the same field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError, field_validator
from wabaguard import activity
from wabaguard.errors import InvalidRequest
from wabaguard.ingest import FIELDS, KINDS, REQUIRED, check_record
from wabaguard.patterns import COUNTRY, ID
from wabaguard.strict import Strict, invalid_from


class ActivityIn(Strict):
    """The record as a pydantic model (what ``ingest`` used until issue 26): the reference."""

    account_id: Annotated[str, Field(pattern=ID)]
    kind: Literal["messages_sent", "api_request", "login", "otp_failed", "otp_locked", "key_action", "meta_event"]
    at: Annotated[str, Field(min_length=10, max_length=40)]
    record_id: Annotated[str, Field(pattern=ID)] | None = None
    phone_number_id: Annotated[str, Field(pattern=ID)] | None = None
    key_id: Annotated[str, Field(pattern=ID)] | None = None
    user_id: Annotated[str, Field(pattern=ID)] | None = None
    count: Annotated[int, Field(ge=0, le=10**9)] | None = None
    countries: dict[Annotated[str, Field(pattern=COUNTRY)], Annotated[int, Field(ge=0, le=10**9)]] | None = None
    ip: Annotated[str, Field(max_length=45)] | None = None
    country: Annotated[str, Field(pattern=COUNTRY)] | None = None
    user_agent: Annotated[str, Field(max_length=512)] | None = None
    action: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: str) -> str:
        try:
            activity.parse_at(value)
        except ValueError as exc:
            raise ValueError("must be an ISO 8601 timestamp") from exc
        return value

    @field_validator("ip")
    @classmethod
    def _check_ip(cls, value: str | None) -> str | None:
        import ipaddress

        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise ValueError("must be an IP address") from exc


def reference(raw: dict[str, Any]) -> dict[str, Any]:
    """What the pydantic model makes of ``raw`` (the same REQUIRED rule after it)."""
    try:
        rec = ActivityIn.model_validate(raw)
    except ValidationError as exc:
        raise invalid_from(exc) from None
    for name in REQUIRED[rec.kind]:
        if getattr(rec, name) is None:
            raise InvalidRequest(name, f"is required for kind {rec.kind}")
    return rec.model_dump(exclude_none=True)


GOOD: dict[str, list[Any]] = {
    "account_id": ["acc_1", "x" * 64, "A-b_9"],
    "kind": list(KINDS),
    "at": ["2026-11-24T10:00:00Z", "2026-11-24T10:00:00+02:00", "2026-11-24", "2026-11-24T10:00:00.123456"],
    "record_id": ["r1", "x" * 64],
    "phone_number_id": ["616047845061811"],
    "key_id": ["key_1"],
    "user_id": ["usr_1"],
    "count": [0, 1, 10**9],
    "countries": [{}, {"US": 3}, {"NG": 10**9, "DE": 0}],
    "ip": ["203.0.113.7", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "::ffff:1.2.3.4"],
    "country": ["US"],
    "user_agent": ["", "Mozilla/5.0", "x" * 512],
    "action": ["PIN_CHANGED", "x" * 64],
}
BAD_IDS = ["x" * 65, "", "a b", "a\n", "é"]
BAD: dict[str, list[Any]] = {
    "account_id": BAD_IDS,
    "kind": ["nope", "LOGIN"],
    "at": ["2026-11-2", "yesterday at noon", "2026-13-40T10:00:00Z", "2026-11-24T10:00:00.123456789012345678Z"],
    "record_id": BAD_IDS,
    "phone_number_id": BAD_IDS,
    "key_id": BAD_IDS,
    "user_id": BAD_IDS,
    "count": [10**9 + 1, -1, True, 1.0, "3"],
    "countries": [{"DE": 1, "us": 2}, {"FR": -1}, {"GB": True}, {"US": 10**9 + 1}, {"USA": 1}, [], "US"],
    "ip": ["1.2.3", "x" * 46, "1.2.3.4 ", 7],
    "country": ["us", "USA", "", 1],
    "user_agent": ["x" * 513, 5],
    "action": ["x" * 65, False],
}
WRONG_TYPES = [None, 1, True, 1.5, [], {}]


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly good records with now and then one field (or more) bad, absent or of a wrong type,
    so that every check is reached, not only the first field's."""
    raw: dict[str, Any] = {}
    for name in FIELDS:
        roll = draw(st.integers(0, 19))
        if roll == 0:
            raw[name] = draw(st.sampled_from(WRONG_TYPES))
        elif roll <= 2:
            raw[name] = draw(st.sampled_from(BAD[name]))
        elif roll <= (3 if name in ("account_id", "kind", "at") else 9):
            continue
        else:
            raw[name] = draw(st.sampled_from(GOOD[name]))
    if draw(st.integers(0, 19)) == 0:
        raw[draw(st.sampled_from(["bogus", "Kind", "counts"]))] = 1
    return raw


@settings(max_examples=1500, deadline=None)
@given(records())
def test_a_record_is_decided_as_the_pydantic_model_decides_it(raw: dict[str, Any]) -> None:
    try:
        want: Any = reference(raw)
    except InvalidRequest as exc:
        want = exc.extra["field"].removesuffix(".[key]")
    try:
        got: Any = check_record(raw)
    except InvalidRequest as exc:
        got = exc.extra["field"]
    assert got == want


def test_the_hand_checks_cover_the_models_fields_in_its_order() -> None:
    assert list(FIELDS) == list(ActivityIn.model_fields)
    assert set(REQUIRED) == set(KINDS)


LOGIN = {"account_id": "a", "kind": "login", "at": "2026-11-24T10:00:00Z", "user_id": "u", "ip": "1.2.3.4"}


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"kind": "login"}, "[2].account_id", "is required"),
        ({"account_id": None, "kind": "login", "at": "2026-11-24T10:00:00Z"}, "[2].account_id", "must not be null"),
        ({**LOGIN, "ip": None}, "[2].ip", "required for kind login"),
        ({"account_id": "a", "kind": "messages_sent", "at": "2026-11-24T10:00:00Z", "phone_number_id": "p", "count": 1,
          "countries": {"us": 1}}, "[2].countries.us", "country code"),
        ({**LOGIN, "ip": "1.2.3"}, "[2].ip", "IP address"),
        ({**LOGIN, "at": "soon"}, "[2].at", "at least 10"),
        ({**LOGIN, "extra": 1}, "[2].extra", "not a known field"),
        ([], "[2]", "JSON object"),
    ],
)  # fmt: skip
def test_a_refused_record_names_its_field_and_says_what_is_wrong(raw: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_record(raw, "[2]")
    assert err.value.extra["field"] == field and words in err.value.detail
