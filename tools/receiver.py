"""A security-events receiver for trying wabaguard locally: verifies each event exactly as the
README's five lines do (``standardwebhooks``) and prints it as one JSON line; answers 204, or 400
for a body whose signature does not verify (wabaguard then retries it).

    WHSEC=whsec_… python -m tools.receiver 8787      # listens on 127.0.0.1:8787
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


class Handler(BaseHTTPRequestHandler):
    webhook: Webhook

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = self.webhook.verify(body, dict(self.headers.items()))
        except WebhookVerificationError as exc:
            print(json.dumps({"rejected": str(exc)}), flush=True)
            self.send_response(400)
        else:
            print(json.dumps({"webhook-id": self.headers["webhook-id"], **event}), flush=True)
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main(argv: list[str]) -> int:
    port = int(argv[0]) if argv else 8787
    Handler.webhook = Webhook(os.environ["WHSEC"])
    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"receiver listening on http://127.0.0.1:{port}/", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
