"""What the API answers on success, as pydantic models: the OpenAPI document's response schemas
(``devstack.openapi``), checked against real answers by schemathesis in ``make e2e``. Handlers
build plain dicts; these only describe them (the authorizer never imports this module)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


ACCESS = Field(
    description="invited (no token yet: their invite is open) | recovering (a recovery invite is open) | active"
)


class AccountRef(Out):
    account_id: str
    name: str
    kind: Literal["client", "partner"] | None = None


class PhoneRef(Out):
    phone_number_id: str
    display: str | None = None


class Me(Out):
    kind: Literal["user", "api_key"]
    account: AccountRef
    user_id: str | None = None
    email: str | None = None
    role: str | None = None
    key_id: str | None = None
    prefix: str | None = None
    phone_number_id: str | None = None
    phone_numbers: list[PhoneRef] | None = None
    managed_accounts: list[AccountRef] | None = None


class ApiKeyMeta(Out):
    key_id: str
    name: str | None = None
    prefix: str
    status: Literal["active", "revoked"]
    created_at: str
    revoked_at: str | None = None


class Phone(Out):
    phone_number_id: str
    account_id: str
    display: str
    meta_phone_number_id: str | None = None
    display_phone_number: str | None = None
    profile: dict[str, Any]
    webhook_url: str | None = Field(None, description="for API keys, the query string is masked")
    api_keys: list[ApiKeyMeta]


class Profile(Out):
    phone_number_id: str


class Webhook(Out):
    url: str


class NewApiKey(Out):
    key_id: str
    api_key: str = Field(description="shown only in this answer")
    prefix: str
    name: str | None = None
    phone_number_id: str
    created_at: str


class Template(Out):
    template_id: str
    name: str
    language: str
    category: str
    status: str


class TimelineStep(Out):
    at: str
    event: str = Field(description="requested | approved | held | waiting | cancelled | submitted | expired")
    by: str
    detail: str | None = None


class PartnerChangeRequest(Out):
    request_id: str
    account_id: str
    status: str = Field(description="COOLING_OFF (cancellable) | SUBMITTED | CANCELLED | EXPIRED")
    current_partner_id: str | None = None
    target_partner_id: str
    reason: str | None = None
    requested_by: str | None = None
    created_at: str
    submit_after: str | None = Field(None, description="end of the cooling-off: submitted then, unless cancelled")
    needs_approval: bool = Field(description="another admin of the account must approve (POST …/approve)")
    approved_by: str | None = None
    approved_at: str | None = None
    ended_at: str | None = None
    timeline: list[TimelineStep]


class PartnerChangeRequests(Out):
    requests: list[PartnerChangeRequest]


class UserView(Out):
    user_id: str
    email: str
    role: Literal["admin", "member"]
    totp_enabled: bool
    created_at: str
    last_active_at: str | None = None
    stale: bool
    access: Literal["invited", "recovering", "active"] = ACCESS


class UserEmail(Out):
    user_id: str
    account_id: str
    email: str
    email_status: Literal["pending"] = Field(
        description="until the next email to the new address is delivered (then ok) or bounces"
    )


class Users(Out):
    account_id: str
    users: list[UserView]


class InviteStatus(Out):
    status: Literal["emailed"]
    to: str
    valid_for: str
    purpose: Literal["welcome", "recovery"] | None = None


class NewUser(Out):
    user_id: str
    email: str
    role: Literal["admin", "member"]
    account_id: str
    created_at: str
    access: Literal["invited"] = ACCESS
    invite: InviteStatus = Field(description="the new user is emailed an invite whose page shows them their token")


class SecurityEvent(Out):
    event_id: str
    kind: str
    at: str


class SecurityEvents(Out):
    account_id: str
    events: list[SecurityEvent]
    next_cursor: str | None = None


class FlagView(Out):
    flag_id: str
    account_id: str
    rule: str
    severity: Literal["low", "medium", "high"]
    explanation: str
    evidence: list[dict[str, Any]]
    status: str
    created_at: str
    resolved_at: str | None = None
    verdict: str | None = None


class Flags(Out):
    account_id: str
    under_review: bool
    flags: list[FlagView]


class TotpEnrollment(Out):
    otpauth_uri: str = Field(description="the authenticator's seed, shown only in this answer")
    confirm_with: str


class TotpConfirmed(Out):
    totp_enabled: bool
    recovery_codes: list[str] = Field(description="single-use recovery codes, shown only in this answer")
    note: str | None = None


class NewToken(Out):
    token: str = Field(description="the caller's new access token, shown only in this answer")
    user_id: str
    created_at: str


class ChallengeView(Out):
    challenge_id: str
    action: str
    method: str
    path: str
    description: str
    channel: Literal["email", "totp", "passkey"]
    destination: str | None = None
    expires_at: str
    expires_in: int
    reference: str  # also in the code email's subject and body: which email answers which challenge
    passkey: PasskeyRequest | None = Field(
        None,
        description="channel passkey: the options for navigator.credentials.get (challenge derived from the request)",
    )
    approval_url: str | None = Field(None, description="channel passkey: wabaguard's approval page for this request")
    emailed: bool | None = Field(None, description="channel passkey: whether the approval link was also emailed")
    used: bool | None = Field(None, description="GET: whether the challenge approved its request already")
    delivery: Literal["sent", "delayed", "delivered", "bounced"] | None = Field(
        None,
        description="GET, channel email: how the code email fared (SES's events); bounced: offer another channel",
    )


class PasskeyRequest(Out):
    publicKey: dict[str, Any] = Field(description="PublicKeyCredentialRequestOptions as JSON (base64url)")


class PasskeyOptions(Out):
    publicKey: dict[str, Any] = Field(description="PublicKeyCredentialCreationOptions as JSON (base64url)")
    expires_in: int


class Passkey(Out):
    passkey_id: str
    name: str
    created_at: str
    last_used_at: str | None = None
    backed_up: bool = Field(description="a synced passkey (true) or one bound to its device (false)")


class PasskeyList(Out):
    passkeys: list[Passkey]


class SecurityPolicy(Out):
    account_id: str
    passkey_required_for: Literal["all"] | list[str]


class PageApproved(Out):
    approved: bool
    challenge_id: str
    detail: str


class ApprovalRequest(Out):
    method: str
    path: str
    body_digest: str = Field(description="hex SHA-256 of the canonical JSON body (§OTP Binding)")


class Approval(Out):
    change_id: str
    action: str
    user_id: str
    request: ApprovalRequest
    challenge_id: str
    challenge: str = Field(description="base64url of the WebAuthn challenge the passkey signed")
    nonce: str
    passkey_id: str
    credential_id: str
    public_key: str = Field(description="the passkey's COSE public key, base64url")
    authenticator_data: str
    client_data_json: str
    signature: str
    rp_id: str
    origin: str
    verified_at: str


class OnboardedAdmin(Out):
    user_id: str
    email: str
    role: Literal["admin"]
    access: Literal["invited"] = ACCESS
    invite: InviteStatus


class Onboarded(Out):
    account: dict[str, Any]
    phone_numbers: list[dict[str, Any]]
    admin: OnboardedAdmin
    note: str | None = None


class AuthenticatorReset(Out):
    user_id: str
    totp_enabled: bool
    passkeys_removed: int = 0


class SecurityWebhookView(Out):
    url: str | None
    status: str = Field(description="active | disabled (410, or an event never accepted) — PUT again to enable")
    disabled_reason: str | None = None
    created_at: str
    updated_at: str
    secret_rotated_at: str | None = None
    previous_secret_valid_until: str | None = Field(None, description="the previous secret signs too until then")


class SecurityWebhookWithSecret(SecurityWebhookView):
    secret: str = Field(description="whsec_…: shown only in this answer; verify events with it (Standard Webhooks)")


class DeliveryAttempt(Out):
    at: str
    status: str


class Delivery(Out):
    delivery_id: str = Field(description="the event's webhook-id, the same on every attempt")
    type: str
    target: str = Field(description="endpoint | old_url (a phone's previous webhook URL)")
    url: str | None = None
    subject_account_id: str
    status: str = Field(description="pending | delivered | failed | cancelled")
    attempts: int
    last_status: str | None = None
    last_attempt_at: str | None = None
    next_attempt_at: str | None = None
    created_at: str
    log: list[DeliveryAttempt]


class Deliveries(Out):
    deliveries: list[Delivery]


class OpsFlag(FlagView):
    account_name: str


class OpsFlags(Out):
    status: Literal["open", "resolved", "audit"]
    severity: Literal["low", "medium", "high"] | None = None
    flags: list[OpsFlag]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


class Review(Out):
    account_id: str
    name: str
    partner_id: str | None = None
    review_reason: str | None = None
    under_review_since: str
    flags: list[FlagView]


class Reviews(Out):
    reviews: list[Review]


class OpsPhone(Out):
    phone_number_id: str
    display: str
    meta_phone_number_id: str | None = None
    webhook_host: str | None = None


class ReviewState(Out):
    under_review: bool
    reason: str | None = None


class AccountOverview(Out):
    account: dict[str, Any]
    review: ReviewState
    users: list[UserView]
    phone_numbers: list[OpsPhone]
    flags: list[FlagView]
    partner_change_requests: list[PartnerChangeRequest]
    managed_accounts: list[AccountRef] | None = None


class RecoveryStarted(Out):
    user_id: str
    email: str
    account_id: str
    invite: InviteStatus
    note: str | None = None


# (method, stage-less template path) → the model of the success answer
SUCCESS: dict[tuple[str, str], type[Out]] = {
    ("GET", "/me"): Me,
    ("POST", "/me/totp"): TotpEnrollment,
    ("POST", "/me/totp/confirm"): TotpConfirmed,
    ("POST", "/me/tokens"): NewToken,
    ("POST", "/me/passkeys/options"): PasskeyOptions,
    ("GET", "/me/passkeys"): PasskeyList,
    ("POST", "/me/passkeys"): Passkey,
    ("GET", "/accounts/{account_id}/security-policy"): SecurityPolicy,
    ("PUT", "/accounts/{account_id}/security-policy"): SecurityPolicy,
    ("GET", "/accounts/{account_id}/approvals/{change_id}"): Approval,
    ("POST", "/approve/{token}"): PageApproved,
    ("GET", "/phone-numbers/{phone_number_id}"): Phone,
    ("PATCH", "/phone-numbers/{phone_number_id}/profile"): Profile,
    ("PUT", "/phone-numbers/{phone_number_id}/webhook"): Webhook,
    ("POST", "/phone-numbers/{phone_number_id}/api-keys"): NewApiKey,
    ("POST", "/accounts/{account_id}/templates"): Template,
    ("POST", "/accounts/{account_id}/partner-change-requests"): PartnerChangeRequest,
    ("GET", "/accounts/{account_id}/partner-change-requests"): PartnerChangeRequests,
    ("POST", "/accounts/{account_id}/partner-change-requests/{request_id}/cancel"): PartnerChangeRequest,
    ("POST", "/accounts/{account_id}/partner-change-requests/{request_id}/approve"): PartnerChangeRequest,
    ("GET", "/accounts/{account_id}/users"): Users,
    ("POST", "/accounts/{account_id}/users"): NewUser,
    ("GET", "/accounts/{account_id}/security-events"): SecurityEvents,
    ("GET", "/accounts/{account_id}/flags"): Flags,
    ("POST", "/ops/flags/{flag_id}/resolve"): FlagView,
    ("POST", "/ops/accounts"): Onboarded,
    ("POST", "/ops/accounts/{account_id}/users/{user_id}/reset-authenticator"): AuthenticatorReset,
    ("GET", "/ops/flags"): OpsFlags,
    ("GET", "/ops/reviews"): Reviews,
    ("GET", "/ops/accounts/{account_id}"): AccountOverview,
    ("POST", "/ops/accounts/{account_id}/users/{user_id}/recover"): RecoveryStarted,
    ("GET", "/accounts/{account_id}/security-webhook"): SecurityWebhookView,
    ("PUT", "/accounts/{account_id}/security-webhook"): SecurityWebhookWithSecret,
    ("POST", "/accounts/{account_id}/security-webhook/rotate-secret"): SecurityWebhookWithSecret,
    ("GET", "/accounts/{account_id}/security-webhook/deliveries"): Deliveries,
    ("POST", "/accounts/{account_id}/security-webhook/deliveries/{delivery_id}/redeliver"): Delivery,
    ("POST", "/otp/challenges"): ChallengeView,
    ("PUT", "/accounts/{account_id}/users/{user_id}/email"): UserEmail,
    ("PUT", "/me/email"): UserEmail,
    ("GET", "/otp/challenges/{challenge_id}"): ChallengeView,
    ("POST", "/otp/challenges/{challenge_id}/resend"): ChallengeView,
}
