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
import json
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit


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


def api_url(api: str) -> str:
    """The stage URL: https, or http only for the local stack on a loopback address."""
    parts = urlsplit(api)
    local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not local:
        raise SystemExit(f"--api {api!r}: use the https stage URL (http only for the local stack)")
    return api.rstrip("/")


def region_of(api: str, explicit: str | None) -> str:
    """The region of an ``execute-api`` URL (``abc.execute-api.eu-central-1.amazonaws.com``)."""
    if explicit:
        return explicit
    host = urlsplit(api).hostname or ""
    parts = host.split(".")
    if "execute-api" in parts and len(parts) > parts.index("execute-api") + 1:
        return parts[parts.index("execute-api") + 1]
    raise SystemExit("--region is needed for an API URL that does not name its region")


def signed_request(
    url: str, body: bytes | None, region: str, credentials: Any = None, method: str = "POST"
) -> urllib.request.Request:
    """A request signed with SigV4 for API Gateway (``execute-api``) with the caller's credentials."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    creds = credentials or botocore.session.get_session().get_credentials()
    if creds is None:
        raise SystemExit("no AWS credentials found (environment, profile, SSO or instance role)")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    aws = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(creds, "execute-api", region).add_auth(aws)
    return urllib.request.Request(url, data=body, method=method, headers=dict(aws.headers.items()))  # noqa: S310 - checked by api_url


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
    url = api_url(args.api) + "/ops/accounts"
    data = json.dumps(request_body(args)).encode()
    if args.ops_token:
        req = urllib.request.Request(  # noqa: S310 - checked by api_url
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {args.ops_token}"},
        )
    else:
        req = signed_request(url, data, region_of(args.api, args.region))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the operator's own API URL
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as err:
        print(err.read().decode(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
