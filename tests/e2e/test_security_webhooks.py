"""§Security webhooks through ``make dev``'s stack, as the README shows it: register a receiver on
127.0.0.1, run ``tools/receiver.py`` (which verifies with ``standardwebhooks``), make a key change,
and read the verified event; the delivery log says it was delivered."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from devstack.cfn import ROOT
from devstack.server import free_port
from tests.e2e.conftest import Stack
from tests.e2e.test_key_actions import _approved, _wait


def test_a_receiver_verifies_the_events_of_a_key_change(stack: Stack) -> None:
    globex = stack.demo["accounts"][1]
    admin = globex["users"][0]
    acc = globex["account_id"]
    port = free_port()
    path = f"/v1/accounts/{acc}/security-webhook"
    resp, _, _ = _approved(stack, admin, "PUT", path, {"url": f"http://127.0.0.1:{port}/events"})
    assert resp.status == 200, resp.json()
    secret = resp.json()["secret"]
    receiver = subprocess.Popen(
        [sys.executable, "-m", "tools.receiver", str(port)],
        cwd=ROOT,
        env={"WHSEC": secret, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[dict[str, Any]] = []
    assert receiver.stdout is not None
    assert receiver.stdout.readline().startswith("receiver listening")

    def read() -> None:
        for line in receiver.stdout or []:
            lines.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    pn = globex["phone_numbers"][0]["phone_number_id"]
    before = stack.request("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()["profile"].get("about")
    try:
        changed, _, _ = _approved(stack, admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Verified"})
        assert changed.status == 200
        # the registration's own event may have been tried before the receiver listened: retried
        event = _wait(lambda: next((e for e in lines if e.get("type") == "profile.updated"), None), timeout=60)
        assert event["data"]["account"]["account_id"] == acc
        assert event["data"]["changes"] == [{"field": "about", "old": before, "new": "Verified"}]
        assert not [e for e in lines if "rejected" in e]
        _wait(lambda: any(e.get("type") == "security_webhook.updated" for e in lines), timeout=60)
        log = stack.request("GET", f"{path}/deliveries", admin["token"]).json()["deliveries"]
        shown = next(d for d in log if d["delivery_id"] == event["webhook-id"])
        assert shown["status"] == "delivered" and shown["type"] == "profile.updated"
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        # leave the demo as it was: no endpoint, the seeded profile text
        _approved(stack, admin, "DELETE", path, None)
        _approved(stack, admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": before})
