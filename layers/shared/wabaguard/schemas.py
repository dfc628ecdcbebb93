"""Request bodies of §API as pydantic models: strict types, unknown fields refused.

Used by ``account_api`` (Event Handler validation) and by ``otp_challenge``, which validates the
body of the request a user wants to approve *before* any code is sent.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from wabaguard.config import settings
from wabaguard.errors import InvalidRequest
from wabaguard.keyactions.registry import BY_NAME
from wabaguard.outbound import Refused, check_url
from wabaguard.strict import ID as _ID
from wabaguard.strict import Strict as Strict
from wabaguard.strict import parse as parse
from wabaguard.whatsapp import forms


def _email(value: str) -> str:
    """A deliverable-looking address as the mail system will read it, normalised and lower-cased.

    Validated by the maintained ``email-validator`` (RFC 5322/6531 syntax, IDNA domains): forms
    a MIME parser reads differently (``a,b@x``, ``a:b@x``, quoted local parts, IP literals) are
    refused. Only ASCII local parts (SES cannot send to others); the domain is stored in ASCII.
    ``.test`` domains are accepted only where the local stack says so.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(
            value,
            check_deliverability=False,
            allow_smtputf8=False,
            test_environment=settings().allow_test_email_domains,
        )
    except EmailNotValidError as exc:
        raise ValueError(f"must be an email address ({exc})") from None
    return str(checked.ascii_email or checked.normalized).lower()


class TemplateCreate(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,512}$")]
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")]
    category: Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
    components: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=10)]

    @model_validator(mode="after")
    def _meta_form(self) -> TemplateCreate:
        """Meta's template rules, so a template Meta would refuse on form never gets a code."""
        try:
            forms.check_template(self.category, self.components)
        except forms.FormError as exc:
            raise InvalidRequest(f"body.{exc.where}", exc.message) from None
        return self


class ProfileUpdate(Strict):
    about: Annotated[str, Field(min_length=1, max_length=139)] | None = None
    address: Annotated[str, Field(max_length=256)] | None = None
    # Meta's prose docs say 512, its OpenAPI description 256: the stricter one, so that no profile
    # approved here is refused by Meta afterwards (README, "How changes reach WhatsApp").
    description: Annotated[str, Field(max_length=256)] | None = None
    email: Annotated[str, Field(max_length=128)] | None = None
    vertical: Annotated[str, Field(max_length=40)] | None = None
    websites: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=2)] | None = None

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return None if value is None else _email(value)

    @field_validator("vertical")
    @classmethod
    def _check_vertical(cls, value: str | None) -> str | None:
        if value is not None and value not in forms.VERTICALS:
            raise ValueError(f"must be one of Meta's verticals: {', '.join(sorted(forms.VERTICALS))}")
        return value

    @field_validator("websites")
    @classmethod
    def _check_websites(cls, value: list[str] | None) -> list[str] | None:
        for url in value or []:
            if not re.match(r"^https?://[^\s/$.?#].[^\s]*$", url):
                raise ValueError("each website must be an http(s) URL")
        return value

    def changes(self) -> dict[str, Any]:
        out = self.model_dump(exclude_unset=True)
        if not out:
            raise InvalidRequest("body", "name at least one profile field to change")
        return out


class WebhookChange(Strict):
    url: Annotated[str, Field(max_length=2048)]
    # Meta calls the new URL with it to verify it; a secret: never shown in emails, logs or answers.
    verify_token: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            return check_url(value)  # https and public; a local receiver only with ALLOW_LOOPBACK_WEBHOOKS
        except Refused as exc:
            raise ValueError(str(exc)) from exc


class SecurityWebhookSet(Strict):
    url: Annotated[str, Field(max_length=2048)]

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            return check_url(value)
        except Refused as exc:
            raise ValueError(str(exc)) from exc


class PartnerChange(Strict):
    target_partner_id: Annotated[str, Field(pattern=_ID)]
    reason: Annotated[str, Field(max_length=500)] | None = None


class ApiKeyCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class UserAdd(Strict):
    email: Annotated[str, Field(max_length=254)]
    role: Literal["admin", "member"]

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return _email(value)


class PasskeyRegister(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    # RegistrationResponseJSON of navigator.credentials.create (checked by py_webauthn, not here)
    credential: dict[str, Any]


class PasskeyApproval(Strict):
    """The approval page's POST: the AuthenticationResponseJSON its script got from the browser."""

    credential: dict[str, Any]


class SecurityPolicySet(Strict):
    passkey_required_for: Literal["all"] | Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=40)]

    @field_validator("passkey_required_for")
    @classmethod
    def _known_actions(cls, value: Any) -> Any:
        if isinstance(value, list):
            unknown = sorted(set(value) - set(BY_NAME))
            if unknown:
                raise ValueError(f"not key actions: {', '.join(unknown)} (known: {', '.join(sorted(BY_NAME))})")
            if len(set(value)) != len(value):
                raise ValueError("names an action twice")
        return value


class EmailChange(Strict):
    """A user's new address (§Mail delivery): where security mail goes from now on."""

    email: Annotated[str, Field(max_length=254)]

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return _email(value)


class Empty(Strict):
    """Actions without a body accept none (or ``{}``)."""


class TotpConfirm(Strict):
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class ChallengeRequest(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: Annotated[str, Field(min_length=1, max_length=512)]
    body: dict[str, Any] | None = None
    channel: Literal["email", "totp", "passkey"] | None = None


class PhoneIn(Strict):
    """A phone number as Meta knows it."""

    display_phone_number: Annotated[str, Field(pattern=r"^[1-9][0-9]{6,14}$")]  # E.164 digits, no "+"
    meta_phone_number_id: Annotated[str, Field(pattern=r"^[0-9]{1,32}$")]
    display: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^\+[0-9 ()-]{6,31}$")] | None = None


class AdminIn(Strict):
    email: Annotated[str, Field(max_length=254)]

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return _email(value)


class Onboard(Strict):
    """``POST /v1/ops/accounts``: a Client account (its WABA, phone numbers, first admin) or a Partner."""

    kind: Literal["client", "partner"] = "client"
    name: Annotated[str, Field(min_length=1, max_length=128)]
    waba_id: Annotated[str, Field(pattern=r"^[0-9]{1,32}$")] | None = None
    partner_id: Annotated[str, Field(pattern=_ID)] | None = None
    phone_numbers: Annotated[list[PhoneIn], Field(max_length=20)] = []  # noqa: RUF012 (pydantic copies defaults)
    # A Partner's business portfolio and app ids at Meta: Meta's Partner webhooks name it by them,
    # and only a submitted Partner change naming the same Partner explains such a webhook.
    meta_business_id: Annotated[str, Field(pattern=r"^[0-9]{1,32}$")] | None = None
    meta_app_id: Annotated[str, Field(pattern=r"^[0-9]{1,32}$")] | None = None
    admin: AdminIn


class FlagResolve(Strict):
    verdict: Literal["confirmed", "false_positive"]
    note: Annotated[str, Field(max_length=1000)] | None = None
