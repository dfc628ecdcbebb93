"""Registering a passkey (§Passkeys): options for ``navigator.credentials.create`` (user
verification required, the user's passkeys excluded), kept 10 minutes; then the key action
``register_passkey`` checks the browser's answer against them with py_webauthn."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wabaguard import clock
from wabaguard.config import settings
from wabaguard.errors import Forbidden, InvalidRequest
from wabaguard.models import PasskeyOptions, User
from wabaguard.models.passkeys import passkey_options_pk
from wabaguard.passkeys import store
from wabaguard.passkeys.binding import b64url, from_b64url, new_nonce
from wabaguard.people.principal import Principal

OPTIONS_SECONDS = 600
RP_NAME = "wabaguard"
MAX_CREDENTIAL = 16384


def options(principal: Principal, user: User, now: float | None = None) -> dict[str, Any]:
    """``POST /v1/me/passkeys/options``: creation options, and the challenge kept for the
    registration (one open at a time per user: asking again replaces it)."""
    if not principal.is_user:
        raise Forbidden("only users register passkeys")
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    t = clock.now() if now is None else now
    cfg = settings()
    challenge = new_nonce() + new_nonce()
    existing = store.of_user(user.account_id, user.user_id, consistent=True)
    opts = generate_registration_options(
        rp_id=cfg.passkey_rp_id,
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=user.user_id.encode(),
        user_display_name=user.email,
        challenge=challenge,
        timeout=OPTIONS_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=from_b64url(p.credential_id)) for p in existing],
    )
    PasskeyOptions(
        passkey_options_pk(user.user_id),
        user_id=user.user_id,
        account_id=user.account_id,
        challenge=b64url(challenge),
        expires_at=int(t) + OPTIONS_SECONDS,
        ttl=datetime.fromtimestamp(t + OPTIONS_SECONDS + 3600, tz=UTC),
    ).save()
    return {"publicKey": json.loads(options_to_json(opts)), "expires_in": OPTIONS_SECONDS}


@dataclass(frozen=True)
class NewPasskey:
    """A checked registration: what is stored of it."""

    credential_id: str
    public_key: str
    sign_count: int
    aaguid: str
    backed_up: bool
    transports: str | None
    options_challenge: str


def check(user: User, credential: Any, now: float | None = None) -> NewPasskey:
    """The browser's RegistrationResponseJSON, checked against the user's open options: challenge,
    origin, RP id, user presence and verification. 400 naming ``body.credential`` otherwise."""
    t = clock.now() if now is None else now
    if not isinstance(credential, dict) or len(json.dumps(credential)) > MAX_CREDENTIAL:
        raise InvalidRequest("body.credential", "must be the RegistrationResponseJSON of navigator.credentials.create")
    try:
        opened = PasskeyOptions.get(passkey_options_pk(user.user_id), consistent_read=True)
    except PasskeyOptions.DoesNotExist:
        opened = None
    if opened is None or opened.expires_at <= t:
        raise InvalidRequest("body.credential", "no open registration: ask for POST /v1/me/passkeys/options first")
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import WebAuthnException

    cfg = settings()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=from_b64url(opened.challenge),
            expected_rp_id=cfg.passkey_rp_id,
            expected_origin=list(cfg.passkey_origins),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest("body.credential", f"is not a valid passkey registration: {exc}") from None
    credential_id = b64url(verified.credential_id)
    if store.by_credential(store.of_user(user.account_id, user.user_id, consistent=True), credential_id):
        raise InvalidRequest("body.credential", "this passkey is registered already")
    transports = credential.get("response", {}).get("transports")
    return NewPasskey(
        credential_id=credential_id,
        public_key=b64url(verified.credential_public_key),
        sign_count=int(verified.sign_count),
        aaguid=str(verified.aaguid),
        backed_up=bool(verified.credential_backed_up),
        transports=",".join(str(x) for x in transports)[:200] if isinstance(transports, list) else None,
        options_challenge=opened.challenge,
    )
