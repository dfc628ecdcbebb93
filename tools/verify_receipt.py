"""Verify a passkey approval's receipt offline (§Passkeys): that the user's passkey signed exactly
the request the receipt names — with nothing of wabaguard's but the receipt itself.

    curl -s -H "Authorization: Bearer $TOKEN" "$API/accounts/$ACC/approvals/$CHANGE" > receipt.json
    python -m tools.verify_receipt receipt.json                # or: … | python -m tools.verify_receipt -
    python -m tools.verify_receipt receipt.json --body body.json   # and that body is the one approved

It recomputes the WebAuthn challenge from the request (method, path, body digest), the challenge id
and the nonce, then checks the signature with py_webauthn: origin, RP id, user verification and the
passkey's public key. Exit code 0 and one line when it holds; 1 and the reason when it does not.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from webauthn import verify_authentication_response


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _lp(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


def signed_challenge(receipt: dict[str, Any]) -> bytes:
    """The challenge the passkey must have signed, from the request the receipt names."""
    req = receipt["request"]
    parts = (
        b"wabaguard-approval-v1",
        receipt["challenge_id"].encode(),
        req["method"].encode(),
        req["path"].encode(),
        bytes.fromhex(req["body_digest"]),
        _unb64(receipt["nonce"]),
    )
    return hashlib.sha256(b"".join(_lp(p) for p in parts)).digest()


def body_digest(body: Any) -> str:
    """§OTP Binding: SHA-256 of the canonical JSON body (no body is ``{}``)."""
    text = json.dumps({} if body is None else body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def verify(receipt: dict[str, Any], body: Any = None, origin: str | None = None) -> str:
    """Raise if the receipt does not prove the approval; say what was approved if it does."""
    if body is not None and body_digest(body) != receipt["request"]["body_digest"]:
        raise ValueError("that body is not the one the passkey approved")
    verify_authentication_response(
        credential={
            "id": receipt["credential_id"],
            "rawId": receipt["credential_id"],
            "type": "public-key",
            "response": {
                "clientDataJSON": receipt["client_data_json"],
                "authenticatorData": receipt["authenticator_data"],
                "signature": receipt["signature"],
            },
        },
        expected_challenge=signed_challenge(receipt),
        expected_rp_id=receipt["rp_id"],
        expected_origin=origin or receipt["origin"],
        credential_public_key=_unb64(receipt["public_key"]),
        credential_current_sign_count=0,
        require_user_verification=True,
    )
    req = receipt["request"]
    return (
        f"valid: passkey {receipt['passkey_id']} of user {receipt['user_id']} approved {req['method']} "
        f"{req['path']} (body sha256 {req['body_digest'][:12]}…) on {receipt['origin']}, verified by wabaguard "
        f"at {receipt['verified_at']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.verify_receipt", description=__doc__.split("\n\n")[0])
    parser.add_argument("receipt", help="the receipt's JSON file, or - for stdin")
    parser.add_argument("--body", help="a JSON file with the request body to check against the receipt")
    parser.add_argument("--origin", help="the origin you expect (default: the receipt's own)")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.receipt == "-" else Path(args.receipt).read_text(encoding="utf-8")
    body = json.loads(Path(args.body).read_text(encoding="utf-8")) if args.body else None
    try:
        print(verify(json.loads(text), body, args.origin))
    except Exception as exc:  # noqa: BLE001 - whatever fails, the receipt does not prove the approval
        print(f"NOT valid: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
