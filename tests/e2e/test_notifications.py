from __future__ import annotations

from tests.e2e.conftest import Stack
from tests.e2e.test_key_actions import _approved


def test_webhook_change_notifies_each_acme_user_once_and_nobody_else(stack: Stack) -> None:
    acme, globex = stack.demo["accounts"]
    admin = acme["users"][0]
    path = f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"
    before = stack.request("GET", path.removesuffix("/webhook"), admin["token"]).json()["webhook_url"]
    done, _, _ = _approved(stack, admin, "PUT", path, {"url": "https://notify-e2e.example.net/wa"})
    assert done.status == 200

    def notices(mails: list[dict]) -> list[dict]:
        return [m for m in mails if m["subject"].startswith("[wabaguard]") and "notify-e2e.example.net" in m["subject"]]

    mails = notices(stack.wait_for_outbox(lambda ms: len(notices(ms)) >= len(acme["users"])))
    assert sorted(m["to"] for m in mails) == sorted(u["email"] for u in acme["users"])
    old_host = before.split("/")[2]
    for mail in mails:
        assert f"{old_host} → notify-e2e.example.net" in mail["text"]
        assert f"Changed by: {admin['email']}" in mail["text"]
    globex_emails = {u["email"] for u in globex["users"]}
    assert not [m for m in notices(stack.outbox()) if m["to"] in globex_emails]
    # Nothing is sent twice: a later change on the same stream is notified only after every record
    # before it is done (a record is retried before the ones behind it), so once its notices are
    # out, a second copy of the first notice would be out too.
    profile = path.removesuffix("/webhook") + "/profile"
    later, _, _ = _approved(stack, admin, "PATCH", profile, {"about": "after notify-e2e"})
    assert later.status == 200

    def later_notices(ms: list[dict]) -> list[dict]:
        return [m for m in ms if m["subject"].startswith("[wabaguard]") and "profile" in m["subject"].lower()
                and "after notify-e2e" in m["text"]]  # fmt: skip

    stack.wait_for_outbox(lambda ms: len(later_notices(ms)) >= len(acme["users"]))
    assert len(notices(stack.outbox())) == len(acme["users"])
