"""wabaguard's operators at the command line: what to review, and the verdicts and recoveries.

The ops routes are IAM routes: every request is signed with the caller's AWS credentials
(botocore's SigV4, service ``execute-api``) — the same credentials ``aws`` uses. Against the local
stack, ``--local`` reads the API URL and the ops token from ``.local/demo.json``.

    python -m tools.ops --api https://abc123.execute-api.eu-central-1.amazonaws.com/v1 flags --open
    python -m tools.ops --local flags --open --severity high
    python -m tools.ops --local review                 # accounts under review, with their flags
    python -m tools.ops --local review acc_123         # one account: users, phones, flags, Partner changes
    python -m tools.ops --local release flg_123 --verdict false_positive --note "their new office"
    python -m tools.ops --local recover acc_123 usr_456

Answers are printed as JSON (stdout); an error answer goes to stderr and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

DEMO = Path(".local/demo.json")


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


def emit(code: int, out: Any) -> int:
    """Print an answer as JSON — stdout for success, stderr for an error — and the exit code."""
    print(json.dumps(out, indent=2), file=sys.stdout if code < 400 else sys.stderr)
    return 0 if code < 400 else 1


class Ops:
    """The ops routes, signed (SigV4) or, locally, with the ops token."""

    def __init__(self, api: str, region: str | None = None, ops_token: str | None = None) -> None:
        self.api = api_url(api)
        self.ops_token = ops_token
        self.region = None if ops_token else region_of(self.api, region)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = self.api + path
        data = json.dumps(body).encode() if body is not None else None
        if self.ops_token:
            headers = {"Authorization": f"Bearer {self.ops_token}"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - checked by api_url
        else:
            assert self.region is not None
            req = signed_request(url, data, self.region, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the operator's own API URL
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            text = err.read()
            try:
                return err.code, json.loads(text)
            except ValueError:
                return err.code, {"error": "http_error", "detail": text.decode(errors="replace")[:500]}

    def flags(self, status: str, severity: str | None, limit: int, follow: bool) -> tuple[int, Any]:
        query = {"status": status, "limit": str(limit), **({"severity": severity} if severity else {})}
        found: list[Any] = []
        while True:
            code, page = self.call("GET", "/ops/flags?" + urlencode(query))
            if code != 200 or not follow:
                return code, page
            found += page["flags"]
            if not page.get("next_cursor"):
                return code, {**page, "flags": found, "next_cursor": None}
            query["cursor"] = page["next_cursor"]


def _seg(value: str) -> str:
    return quote(value, safe="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--api", help="the stage URL, ending in /v1 (requests are SigV4-signed)")
    where.add_argument("--local", action="store_true", help="the local stack of .local/demo.json (its ops token)")
    parser.add_argument("--region", help="defaults to the region in the API URL")
    commands = parser.add_subparsers(dest="command", required=True)
    flags = commands.add_parser("flags", help="flags across accounts, newest first")
    state = flags.add_mutually_exclusive_group()
    state.add_argument("--open", dest="status", action="store_const", const="open", help="open flags (default)")
    state.add_argument("--status", choices=["open", "resolved", "audit"])
    flags.add_argument("--severity", choices=["low", "medium", "high"])
    flags.add_argument("--limit", type=int, default=50)
    flags.add_argument("--all", action="store_true", help="follow the cursor to the last page")
    review = commands.add_parser("review", help="accounts under review, or one account's whole picture")
    review.add_argument("account_id", nargs="?")
    release = commands.add_parser("release", help="resolve a flag (the review ends with its last high flag)")
    release.add_argument("flag_id")
    release.add_argument("--verdict", required=True, choices=["confirmed", "false_positive"])
    release.add_argument("--note")
    recover = commands.add_parser("recover", help="email a user a new invite (their old token dies when used)")
    recover.add_argument("account_id")
    recover.add_argument("user_id")
    args = parser.parse_args(argv)

    if args.local:
        demo = json.loads(DEMO.read_text())
        ops = Ops(demo["api"], ops_token=demo["ops"]["token"])
    else:
        ops = Ops(args.api, region=args.region)
    if args.command == "flags":
        code, out = ops.flags(args.status or "open", args.severity, args.limit, args.all)
    elif args.command == "review" and args.account_id:
        code, out = ops.call("GET", f"/ops/accounts/{_seg(args.account_id)}")
    elif args.command == "review":
        code, out = ops.call("GET", "/ops/reviews")
    elif args.command == "release":
        body = {"verdict": args.verdict, **({"note": args.note} if args.note else {})}
        code, out = ops.call("POST", f"/ops/flags/{_seg(args.flag_id)}/resolve", body)
    else:
        code, out = ops.call("POST", f"/ops/accounts/{_seg(args.account_id)}/users/{_seg(args.user_id)}/recover")
    return emit(code, out)


if __name__ == "__main__":
    raise SystemExit(main())
