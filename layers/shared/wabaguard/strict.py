"""The base of every request model: pydantic with strict types and unknown fields refused, and
the one way a validation error becomes a 400 naming its field.

Apart from ``schemas`` (the API's bodies, with the registry and URL checks they import), so that
the base can be named without loading every body. Activity records are checked without pydantic
(``ingest``, issue #26).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from wabaguard.errors import InvalidRequest
from wabaguard.patterns import COUNTRY as COUNTRY
from wabaguard.patterns import ID as ID


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False, defer_build=True)


def invalid_from(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first validation error as a 400 naming its field."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    field = ".".join(p for p in (prefix, loc) if p) or prefix or "body"
    message = str(err.get("msg", "is invalid"))
    if err.get("type") == "extra_forbidden":
        message = "is not a known field"
    elif err.get("type") == "missing":
        message = "is required"
    return InvalidRequest(field, message.removeprefix("Value error, "))


def parse(model: type[Strict], body: Any, prefix: str = "") -> Any:
    """Validate ``body`` against ``model``; raise InvalidRequest naming the field."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidRequest(prefix or "body", "must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid_from(exc, prefix) from None
