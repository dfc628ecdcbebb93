"""Onboard a Client account (its WABA, phone numbers and first admin) or a Partner.

``POST /v1/ops/accounts`` is an IAM route: this client signs it with the caller's AWS credentials
(botocore's SigV4, service ``execute-api``) — the same credentials ``aws`` uses (environment,
profile, SSO, instance role). Against the local stack, ``--ops-token`` (``.local/demo.json`` →
``ops.token``) stands in for the signature.

    python -m tools.onboard --api https://abc123.execute-api.eu-central-1.amazonaws.com/v1 \\
        --name "Acme Shoes" --waba-id 102290129340398 --phone 4930123456:106540352242922 \\
        --admin-email admin@acme.example

It prints the new account (stdout, JSON) and the first admin's invite status — never a token: the
admin is emailed an invite whose page shows them their own token, once.
"""

from __future__ import annotations

import argparse
from typing import Any

from tools.ops import Ops, emit


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "partner" if args.partner else "client", "name": args.name}
    body["admin"] = {"email": args.admin_email}
    if args.waba_id:
        body["waba_id"] = args.waba_id
    if args.partner_id:
        body["partner_id"] = args.partner_id
    phones = []
    for spec in args.phone or []:
        digits, sep, meta_id = spec.partition(":")
        if not sep:
            raise SystemExit(f"--phone {spec!r}: expected DISPLAY_DIGITS:META_PHONE_NUMBER_ID")
        phones.append({"display_phone_number": digits.lstrip("+"), "meta_phone_number_id": meta_id})
    if phones:
        body["phone_numbers"] = phones
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="the stage URL, ending in /v1")
    parser.add_argument("--name", required=True)
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--partner", action="store_true", help="onboard a Partner instead of a Client account")
    parser.add_argument("--waba-id", help="Meta's WhatsApp Business Account id (Client accounts)")
    parser.add_argument("--partner-id", help="the managing Partner's wabaguard id")
    parser.add_argument("--phone", action="append", help="DISPLAY_DIGITS:META_PHONE_NUMBER_ID (repeatable)")
    parser.add_argument("--region", help="defaults to the region in the API URL")
    parser.add_argument("--ops-token", help="the local stack's ops token instead of a SigV4 signature")
    args = parser.parse_args(argv)
    ops = Ops(args.api, region=args.region, ops_token=args.ops_token)
    return emit(*ops.call("POST", "/ops/accounts", request_body(args)))


if __name__ == "__main__":
    raise SystemExit(main())
