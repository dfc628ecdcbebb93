"""Who is calling: built by the authorizer from a credential, rebuilt by handlers from its context."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from wabaguard.activity import RequestMeta
from wabaguard.models import ChangeRecord, Credential, iso
from wabaguard.security import new_id


@dataclass(frozen=True)
class Principal:
    kind: str  # user | api_key
    account_id: str
    account_kind: str  # client | partner
    user_id: str | None = None
    email: str | None = None
    role: str | None = None
    key_id: str | None = None
    phone_number_id: str | None = None
    prefix: str | None = None
    # This credential's OTP lock (epoch seconds), counted per credential: a stolen token that is
    # locked out does not lock out the owner once the owner has rotated to a new token.
    otp_locked_until: str | None = None

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def is_partner(self) -> bool:
        return self.account_kind == "partner"

    @property
    def is_admin(self) -> bool:
        return self.is_user and self.role == "admin"

    @property
    def principal_id(self) -> str:
        return (self.user_id if self.is_user else self.key_id) or "anonymous"

    def label(self) -> str:
        """How notices name the actor: the user's email or ``API key <prefix>``."""
        return self.email if self.is_user and self.email else f"API key {self.prefix}"

    @classmethod
    def from_credential(cls, cred: Credential) -> Principal:
        return cls(
            kind=cred.kind,
            account_id=cred.account_id,
            account_kind=cred.account_kind,
            user_id=cred.user_id,
            email=cred.email,
            role=cred.role,
            key_id=cred.key_id,
            phone_number_id=cred.phone_number_id,
            prefix=cred.prefix,
            otp_locked_until=str(int(cred.otp_locked_until)) if cred.otp_locked_until else None,
        )

    def context(self) -> dict[str, str]:
        """Authorizer context: strings only (API Gateway drops nested values)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_context(cls, ctx: dict[str, object]) -> Principal:
        fields = {f: ctx.get(f) for f in cls.__dataclass_fields__}
        if not fields.get("kind") or not fields.get("account_id"):
            raise ValueError("authorizer context lacks the principal")
        return cls(**{k: (str(v) if v is not None else None) for k, v in fields.items()})  # type: ignore[arg-type]


def change_record(principal: Principal, kind: str, meta: RequestMeta, now: datetime) -> ChangeRecord:
    """Who did it, from where, when: stored on the changed item for the notifier."""
    if principal.is_user:
        return change_by(kind, meta, now, principal.email, principal.user_id)
    return change_by(kind, meta, now, None, principal.user_id, key_prefix=principal.prefix)


def change_by(
    kind: str,
    meta: RequestMeta,
    now: datetime,
    email: str | None,
    user_id: str | None = None,
    key_prefix: str | None = None,
) -> ChangeRecord:
    """A change made by someone without a principal (a link's recipient, the owner of a credential
    the authorizer saw): who by email, from where, when."""
    return ChangeRecord(
        change_id=new_id("chg"),
        kind=kind,
        at=iso(now),
        by_user_id=user_id,
        by_email=email,
        by_key_prefix=key_prefix,
        ip=meta.ip,
        user_agent=meta.user_agent,
        country=meta.country,
        request_id=meta.request_id,
    )
