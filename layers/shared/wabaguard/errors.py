"""Domain exceptions. Handlers map them to HTTP in one place; nothing matches on message text."""

from __future__ import annotations

from typing import Any


class WabaguardError(Exception):
    """Base: an error with an HTTP status, a stable code and a human detail."""

    status = 400
    code = "invalid_request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


class InvalidRequest(WabaguardError):
    status, code = 400, "invalid_request"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}", field=field)


class Unauthorized(WabaguardError):
    status, code = 401, "unauthorized"


class Forbidden(WabaguardError):
    status, code = 403, "forbidden"


class NotFound(WabaguardError):
    status, code = 404, "not_found"


class UnknownPartner(NotFound):
    """A Partner change to a Partner wabaguard does not know (§Partner change): 404 by name."""

    code = "unknown_partner"


class PayloadTooLarge(WabaguardError):
    status, code = 413, "request_too_large"


class Conflict(WabaguardError):
    status, code = 409, "conflict"


class UnderReview(WabaguardError):
    status, code = 423, "account_under_review"

    @classmethod
    def paused(cls, account_id: str, action: str) -> UnderReview:
        return cls(f"account {account_id} is under review; {action} is paused until ops release it")


class RateLimited(WabaguardError):
    status, code = 429, "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}


class Unavailable(WabaguardError):
    status, code = 503, "temporarily_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "5"}


class OtpDenied(WabaguardError):
    """An OTP check failed; ``code`` is one of the §OTP reasons."""

    status = 403

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.code = code
