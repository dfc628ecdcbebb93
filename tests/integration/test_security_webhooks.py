"""§Security webhooks: every notice as a signed event to the customer's endpoint, verified here by
the ``standardwebhooks`` library itself; retries keep the id, 410 and exhaustion disable, the old
URL of a changed phone webhook is told, and a name that resolves inside a network is never called."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from devstack.cfn import ROOT
from devstack.lambdas import wait_for_invocations
from devstack.server import World
from tests.integration.conftest import Api

SCHEMA = json.loads(Path(ROOT, "layers/shared/wabaguard/webhooks/events.schema.json").read_text())


class Receiver:
    """A customer's endpoint on 127.0.0.1: records every request, answers from a script."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.answers: list[int] = []  # next statuses; 204 once empty
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "/events") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.seen if path is None or r["path"] == path]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("ALLOW_LOOPBACK_WEBHOOKS", "1")
    r = Receiver()
    yield r
    r.httpd.shutdown()


def settle(world: World) -> None:
    """Let the stream reach the notifier and the deliveries it asked for happen."""
    for _ in range(3):
        world.pump.pump()
        wait_for_invocations()


def register(api: Api, user: dict[str, Any], account_id: str, url: str) -> dict[str, Any]:
    resp = api.approved(user, "PUT", f"/v1/accounts/{account_id}/security-webhook", {"url": url})
    assert resp.status == 200, resp.json()
    return dict(resp.json())


def verified(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """What a receiver does: the library checks the signature and the timestamp."""
    return dict(Webhook(secret).verify(request["body"], request["headers"]))


def deliveries(api: Api, user: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    resp = api.call("GET", f"/v1/accounts/{account_id}/security-webhook/deliveries", user["token"])
    assert resp.status == 200, resp.json()
    return list(resp.json()["deliveries"])


def profile_change(api: Api, admin: dict[str, Any], pn: str, about: str = "new words") -> None:
    assert api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": about}).status == 200


# ------------------------------------------------------------------ registration
def test_registering_shows_the_secret_once_and_events_verify_with_the_library(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    out = register(api, admin, acc, receiver.url())
    secret = out["secret"]
    assert secret.startswith("whsec_") and out["url"] == receiver.url() and out["status"] == "active"
    shown = api.call("GET", f"/v1/accounts/{acc}/security-webhook", admin["token"]).json()
    assert "secret" not in shown and shown["status"] == "active"
    settle(world)
    (first,) = receiver.seen  # the registration itself is the first event the endpoint hears
    assert verified(secret, first)["type"] == "security_webhook.updated"
    profile_change(api, admin, pn)
    settle(world)
    event = verified(secret, receiver.seen[-1])
    jsonschema.validate(event, SCHEMA)
    assert event["type"] == "profile.updated"
    data = event["data"]
    assert data["account"]["account_id"] == acc and data["actor"]["email"] == admin["email"]
    assert data["changes"] == [{"field": "about", "old": "Shoes for everyone", "new": "new words"}]
    assert data["actor"]["ip"] == "203.0.113.7"
    headers = receiver.seen[-1]["headers"]
    assert headers["webhook-id"].startswith("msg_") and headers["Content-Type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(receiver.seen[-1]["body"], headers)
    # the secret is in no email, no event and no stored answer in clear
    everything = json.dumps(api.outbox()) + "".join(r["body"].decode() for r in receiver.seen)
    assert secret not in everything and secret.removeprefix("whsec_") not in everything


def test_a_loopback_receiver_needs_the_local_flag_and_a_private_name_is_refused_before_a_code(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/v1/accounts/{acme['account_id']}/security-webhook"
    monkeypatch.delenv("ALLOW_LOOPBACK_WEBHOOKS", raising=False)
    resp = api.challenge(admin["token"], "PUT", path, {"url": "http://127.0.0.1:9/x"})
    assert resp.status == 400 and "body.url" in resp.json()["detail"]

    def private(host: str, port: int, type: int = 0) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(socket, "getaddrinfo", private)
    sent = len(api.outbox())
    resp = api.challenge(admin["token"], "PUT", path, {"url": "https://hooks.acme-shop.com/events"})
    assert resp.status == 400, resp.json()
    assert "non-public address (private)" in resp.json()["detail"]
    assert len(api.outbox()) == sent  # no code was sent


def test_only_admins_manage_the_endpoint_and_members_read_it(
    api: Api, world: World, acme: dict[str, Any], receiver: Receiver
) -> None:
    admin, member = acme["users"]
    path = f"/v1/accounts/{acme['account_id']}/security-webhook"
    assert api.challenge(member["token"], "PUT", path, {"url": receiver.url()}).status == 403
    assert api.call("GET", path, member["token"]).status == 404  # none registered yet
    register(api, admin, acme["account_id"], receiver.url())
    assert api.call("GET", path, member["token"]).status == 200
    assert api.call("GET", f"{path}/deliveries", member["token"]).status == 200


# ------------------------------------------------------------------ delivery
def test_a_failed_attempt_is_retried_with_the_same_id_and_the_log_shows_it(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    secret = register(api, admin, acc, receiver.url())["secret"]
    settle(world)
    receiver.answers = [500, 503]
    profile_change(api, admin, pn)
    settle(world)
    for _ in range(40):  # the compressed 5 s and 5 min waits
        if len(receiver.seen) >= 4:
            break
        world.run_schedule("SecurityWebhookFunction")
        threading.Event().wait(0.05)
    tries = receiver.seen[1:]
    assert len(tries) == 3 and len({r["headers"]["webhook-id"] for r in tries}) == 1
    assert all(verified(secret, r)["type"] == "profile.updated" for r in tries)
    latest = next(d for d in deliveries(api, admin, acc) if d["type"] == "profile.updated")
    assert latest["status"] == "delivered" and latest["attempts"] == 3
    assert [a["status"] for a in latest["log"]] == ["500", "503", "204"]
    assert latest["delivery_id"] == tries[0]["headers"]["webhook-id"]


def test_two_workers_never_send_one_attempt_twice(
    api: Api,
    world: World,
    admin: dict[str, Any],
    acme: dict[str, Any],
    pn: str,
    receiver: Receiver,
) -> None:
    from wabaguard.webhooks import deliveries as dl

    register(api, admin, acme["account_id"], receiver.url())
    settle(world)
    before = len(receiver.seen)
    profile_change(api, admin, pn)
    world.pump.pump()  # addressed and kicked …
    wait_for_invocations()
    pending = [(d.pk, d.sk) for d in dl.WebhookDelivery.query(f"ACCOUNT#{acme['account_id']}")]
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        for pk, sk in pending:
            dl.attempt(pk, sk)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.seen) - before == 1


def test_a_redelivered_stream_record_addresses_the_event_once(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    from wabaguard.models import PhoneNumber
    from wabaguard.people.access import load_account
    from wabaguard.webhooks import deliveries as dl

    register(api, admin, acme["account_id"], receiver.url())
    settle(world)
    profile_change(api, admin, pn)
    settle(world)
    phone = PhoneNumber.get(*PhoneNumber.key(pn))
    account = load_account(acme["account_id"])
    from wabaguard.clock import utcnow

    assert dl.enqueue(None, phone, account, "again", utcnow()) == []  # the same change: already addressed
    assert len([d for d in deliveries(api, admin, acme["account_id"]) if d["type"] == "profile.updated"]) == 1


def test_a_change_nobody_listens_to_builds_no_event(
    api: Api,
    world: World,
    admin: dict[str, Any],
    acme: dict[str, Any],
    pn: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an endpoint (and no old URL to tell) the event is never built, so the notifier does
    not load its models (#26); with one, the same change is addressed."""
    from wabaguard.clock import utcnow
    from wabaguard.models import PhoneNumber
    from wabaguard.people.access import load_account
    from wabaguard.webhooks import deliveries as dl
    from wabaguard.webhooks import events

    built: list[str] = []
    real = events.build
    monkeypatch.setattr(events, "build", lambda *a: built.append("event") or real(*a))
    profile_change(api, admin, pn)
    settle(world)
    phone, account = PhoneNumber.get(*PhoneNumber.key(pn)), load_account(acme["account_id"])
    assert dl.enqueue(None, phone, account, "no one hears", utcnow()) == [] and built == []
    register(api, admin, acme["account_id"], receiver.url())
    settle(world)
    built.clear()  # the registration's own event was built: its endpoint hears of it
    assert len(dl.enqueue(None, phone, account, "now someone does", utcnow())) == 1 and built == ["event"]


def test_410_disables_the_endpoint_tells_the_admins_and_stops_events(
    api: Api, world: World, acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    admin = acme["users"][0]
    acc = acme["account_id"]
    register(api, admin, acc, receiver.url())
    settle(world)
    receiver.answers = [410]
    profile_change(api, admin, pn)
    settle(world)
    shown = api.call("GET", f"/v1/accounts/{acc}/security-webhook", admin["token"]).json()
    assert shown["status"] == "disabled" and "410" in shown["disabled_reason"]
    told = [m for m in api.outbox() if "Security webhook of Acme Shoes disabled" in m["subject"]]
    assert [m["to"] for m in told] == [admin["email"]]  # admins only: members cannot fix it
    assert "410" in told[0]["text"]
    seen = len(receiver.seen)
    profile_change(api, admin, pn, "later words")
    settle(world)
    assert len(receiver.seen) == seen  # nothing more goes to a disabled endpoint
    failed = next(d for d in deliveries(api, admin, acc) if d["type"] == "profile.updated")
    assert failed["status"] == "failed" and failed["last_status"] == "410"
    redeliver = f"/v1/accounts/{acc}/security-webhook/deliveries/{failed['delivery_id']}/redeliver"
    resp = api.call("POST", redeliver, admin["token"])
    assert resp.status == 409 and "disabled" in resp.json()["detail"]
    # PUT again enables it (a new secret), and the missed event can be sent again
    secret = register(api, admin, acc, receiver.url())["secret"]
    resp = api.call("POST", redeliver, admin["token"])
    assert resp.status == 202, resp.json()
    settle(world)
    again = [r for r in receiver.seen if r["headers"]["webhook-id"] == failed["delivery_id"]]
    assert len(again) == 2 and verified(secret, again[-1])["type"] == "profile.updated"


def test_an_endpoint_that_never_accepts_is_disabled_after_the_last_attempt(
    api: Api,
    world: World,
    admin: dict[str, Any],
    acme: dict[str, Any],
    pn: str,
    receiver: Receiver,
    moving: dict[str, Any],
) -> None:
    from wabaguard.webhooks import deliveries as dl

    acc = acme["account_id"]
    register(api, admin, acc, receiver.url())
    settle(world)
    receiver.answers = [500] * 20
    profile_change(api, admin, pn)
    settle(world)
    for wait in dl.SCHEDULE_S:
        moving["now"] += timedelta(seconds=wait + 1)
        world.run_schedule("SecurityWebhookFunction")
    failed = next(d for d in deliveries(api, admin, acc) if d["type"] == "profile.updated")
    assert failed["status"] == "failed" and failed["attempts"] == dl.MAX_ATTEMPTS == 8
    shown = api.call("GET", f"/v1/accounts/{acc}/security-webhook", admin["token"]).json()
    assert shown["status"] == "disabled" and "8 tries" in shown["disabled_reason"]


def test_a_redelivery_sends_the_same_event_again(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    register(api, admin, acc, receiver.url())
    profile_change(api, admin, pn)
    settle(world)
    delivered = next(d for d in deliveries(api, admin, acc) if d["type"] == "profile.updated")
    assert delivered["status"] == "delivered"
    path = f"/v1/accounts/{acc}/security-webhook/deliveries/{delivered['delivery_id']}/redeliver"
    member = acme["users"][1]
    assert api.call("POST", path, member["token"]).status == 403
    resp = api.call("POST", path, admin["token"])
    assert resp.status == 202 and resp.json()["status"] == "pending"
    settle(world)
    same = [r for r in receiver.seen if r["headers"]["webhook-id"] == delivered["delivery_id"]]
    assert len(same) == 2 and same[0]["body"] == same[1]["body"]
    missing = api.call("POST", f"/v1/accounts/{acc}/security-webhook/deliveries/msg_nope/redeliver", admin["token"])
    assert missing.status == 404


# ------------------------------------------------------------------ rotation
def test_after_a_rotation_both_secrets_sign_for_24_hours(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    from wabaguard import clock
    from wabaguard.webhooks import endpoints

    acc = acme["account_id"]
    old = register(api, admin, acc, receiver.url())["secret"]
    resp = api.approved(admin, "POST", f"/v1/accounts/{acc}/security-webhook/rotate-secret")
    assert resp.status == 200, resp.json()
    new = resp.json()["secret"]
    assert new != old and resp.json()["previous_secret_valid_until"]
    profile_change(api, admin, pn)
    settle(world)
    last = receiver.seen[-1]
    assert verified(old, last) == verified(new, last)  # a receiver on either secret accepts it
    assert len(last["headers"]["webhook-signature"].split(" ")) == 2
    endpoint = endpoints.load(acc)
    assert endpoint is not None
    assert len(endpoints.signing_secrets(endpoint, clock.utcnow() + timedelta(hours=23))) == 2
    assert endpoints.signing_secrets(endpoint, clock.utcnow() + timedelta(hours=25)) == [new]
    assert [m for m in api.outbox() if "Security webhook secret replaced" in m["subject"]]


def test_removing_the_endpoint_stops_events_and_needs_one(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    path = f"/v1/accounts/{acc}/security-webhook"
    assert api.challenge(admin["token"], "DELETE", path).status == 404
    register(api, admin, acc, receiver.url())
    settle(world)
    assert api.approved(admin, "DELETE", path).status == 204
    settle(world)
    seen = len(receiver.seen)
    profile_change(api, admin, pn)
    settle(world)
    assert len(receiver.seen) == seen
    assert api.call("GET", path, admin["token"]).status == 404
    assert [m for m in api.outbox() if "Security webhook of Acme Shoes removed" in m["subject"]]


# ------------------------------------------------------------------ who hears what
def test_the_old_url_of_a_changed_phone_webhook_is_told_signed_with_the_account_secret(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    secret = register(api, admin, acc, receiver.url())["secret"]
    old_url, new_url = receiver.url("/old-integration?token=s3cret"), receiver.url("/hijacker")
    for url in (old_url, new_url):
        body = {"url": url, "verify_token": "vt-1"}
        assert api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", body).status == 200
        settle(world)
    told = [r for r in receiver.seen if r["path"].startswith("/old-integration")]
    assert len(told) == 1
    event = verified(secret, told[0])
    jsonschema.validate(event, SCHEMA)
    assert event["type"] == "webhook_url.changed" and event["data"]["sent_to_old_url"] is True
    assert "s3cret" not in told[0]["body"].decode()
    # issue 20.6: the old URL (maybe the hijacker's own) hears the minimum: no actor, the new host only
    data = event["data"]
    assert data["new_url"] is None and data["new_host"] == "127.0.0.1" and "/hijacker" not in told[0]["body"].decode()
    assert data["actor"] == {"type": "user", "name": None, "email": None, "key_prefix": None, "ip": None,
                             "country": None, "user_agent": None}
    assert admin["email"] not in told[0]["body"].decode() and "pytest/agent" not in told[0]["body"].decode()
    assert "203.0.113.7" not in told[0]["body"].decode() and "admins of Acme Shoes" in data["see"]
    to_endpoint = [e for e in receiver.events("/events") if e["type"] == "webhook_url.changed"]
    assert len(to_endpoint) == 2 and to_endpoint[-1]["data"]["sent_to_old_url"] is False
    assert all("vt-1" not in r["body"].decode() for r in receiver.seen)


def test_a_partner_endpoint_hears_its_clients_and_a_client_only_itself(
    api: Api, world: World, demo: dict[str, Any], receiver: Receiver
) -> None:
    partner = demo["partner"]
    acme, globex = demo["accounts"]
    p_secret = register(api, partner["users"][0], partner["partner_id"], receiver.url("/partner"))["secret"]
    a_secret = register(api, acme["users"][0], acme["account_id"], receiver.url("/acme"))["secret"]
    settle(world)
    gpn = globex["phone_numbers"][0]["phone_number_id"]
    profile_change(api, globex["users"][0], gpn)
    settle(world)
    to_partner = [verified(p_secret, r) for r in receiver.seen if r["path"] == "/partner"]
    assert [e["data"]["account"]["account_id"] for e in to_partner if e["type"] == "profile.updated"] == [
        globex["account_id"]
    ]
    # the Client's own registration reached the Partner too; Globex's change never reached Acme
    registrations = [e["data"]["account"]["name"] for e in to_partner if e["type"] == "security_webhook.updated"]
    assert "Acme Shoes" in registrations
    to_acme = [verified(a_secret, r) for r in receiver.seen if r["path"] == "/acme"]
    assert all(e["data"]["account"]["account_id"] == acme["account_id"] for e in to_acme)


def test_no_secret_reaches_an_event(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    secret = register(api, admin, acc, receiver.url())["secret"]
    key = api.approved(admin, "POST", f"/v1/phone-numbers/{pn}/api-keys", {"name": "shop"}).json()["api_key"]
    user = api.approved(admin, "POST", f"/v1/accounts/{acc}/users", {"email": "new@acme.test", "role": "member"}).json()
    user["token"] = api.accept_invite("new@acme.test")
    rotated = api.approved(admin, "POST", f"/v1/accounts/{acc}/security-webhook/rotate-secret").json()["secret"]
    settle(world)
    bodies = "".join(r["body"].decode() for r in receiver.seen)
    types = {e["type"] for e in receiver.events()}
    assert {"api_key.created", "user.added", "security_webhook.secret_rotated"} <= types
    for value in (key, user["token"], secret, rotated):
        assert value not in bodies
    for event in receiver.events():
        jsonschema.validate(event, SCHEMA)


def test_a_name_that_resolves_to_a_private_address_at_delivery_is_never_called(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registered while the name was public; rebound to the metadata address before the event."""
    answers = {"ip": "93.184.216.34"}
    real = socket.getaddrinfo

    def dns(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "hooks.acme-shop.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["ip"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    acc = acme["account_id"]
    register(api, admin, acc, "https://hooks.acme-shop.com/events")
    answers["ip"] = "169.254.169.254"
    world.pump.pump()
    wait_for_invocations()
    (registered,) = deliveries(api, admin, acc)
    assert registered["status"] == "pending"
    assert registered["last_status"] == "refused: the host resolves to a non-public address (cloud metadata)"


def test_a_closed_port_and_a_slow_receiver_are_retried_and_named_in_the_log(
    api: Api,
    world: World,
    admin: dict[str, Any],
    acme: dict[str, Any],
    pn: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from wabaguard import outbound

    acc = acme["account_id"]
    register(api, admin, acc, receiver.url())
    settle(world)
    receiver.httpd.shutdown()
    receiver.httpd.server_close()  # nobody listens on the port any more
    profile_change(api, admin, pn)
    settle(world)
    refused = next(d for d in deliveries(api, admin, acc) if d["type"] == "profile.updated")
    assert refused["status"] == "pending" and refused["last_status"] == "connection refused or unreachable"
    assert refused["next_attempt_at"]

    class Slow(Receiver):
        def __init__(self) -> None:
            super().__init__()
            handler = self.httpd.RequestHandlerClass
            original = handler.do_POST  # type: ignore[attr-defined]

            def slow(this: Any) -> None:
                time.sleep(1.5)
                original(this)

            handler.do_POST = slow  # type: ignore[attr-defined]

    slow = Slow()
    monkeypatch.setattr(outbound, "TIMEOUT_S", 0.5)
    try:
        register(api, admin, acc, slow.url())
        settle(world)
        # the first registration's event was delivered; the second one's met the slow receiver
        (latest,) = [
            d
            for d in deliveries(api, admin, acc)
            if d["type"] == "security_webhook.updated" and d["status"] != "delivered" and d["target"] == "endpoint"
        ]  # (the closed first endpoint is told of its replacement too: target previous_endpoint)
        assert latest["status"] == "pending" and latest["last_status"] == "timeout"
    finally:
        slow.httpd.shutdown()


# ------------------------------------------------------------------ issue 20: 4 and 5
@pytest.mark.parametrize("how", ["replaced", "removed"])
def test_the_endpoint_that_was_listening_is_told_first_signed_with_its_own_secret(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], receiver: Receiver, how: str
) -> None:
    acc = acme["account_id"]
    old_secret = register(api, admin, acc, receiver.url("/customer"))["secret"]
    settle(world)
    seen = len(receiver.seen)
    if how == "replaced":
        new_secret = register(api, admin, acc, receiver.url("/hijacker"))["secret"]
    else:
        assert api.approved(admin, "DELETE", f"/v1/accounts/{acc}/security-webhook").status == 204
    settle(world)
    (told,) = [r for r in receiver.seen[seen:] if r["path"] == "/customer"]
    event = verified(old_secret, told)
    jsonschema.validate(event, SCHEMA)
    assert event["type"] == ("security_webhook.updated" if how == "replaced" else "security_webhook.removed")
    if how == "replaced":
        assert event["data"]["security_webhook"]["url"].endswith("/hijacker")
        with pytest.raises(WebhookVerificationError):
            verified(new_secret, told)  # signed with the secret the old endpoint knows, only
        hijacker = [r for r in receiver.seen[seen:] if r["path"] == "/hijacker"]
        assert len(hijacker) == 1 and verified(new_secret, hijacker[0])["type"] == "security_webhook.updated"
    listed = [d for d in deliveries(api, admin, acc) if d["target"] == "previous_endpoint"]
    assert len(listed) == 1 and listed[0]["status"] == "delivered"


def test_only_deliveries_to_the_current_endpoint_are_redelivered_a_few_times_an_hour(
    api: Api, world: World, admin: dict[str, Any], acme: dict[str, Any], pn: str, receiver: Receiver
) -> None:
    acc = acme["account_id"]
    register(api, admin, acc, receiver.url())
    body = {"url": receiver.url("/old")}
    assert api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", body).status == 200
    assert api.approved(admin, "PUT", f"/v1/phone-numbers/{pn}/webhook", {"url": receiver.url("/new")}).status == 200
    settle(world)
    base = f"/v1/accounts/{acc}/security-webhook/deliveries"
    to_old = next(d for d in deliveries(api, admin, acc) if d["target"] == "old_url")
    refused = api.call("POST", f"{base}/{to_old['delivery_id']}/redeliver", admin["token"])
    assert refused.status == 409 and "former webhook URL" in refused.json()["detail"]
    mine = next(d for d in deliveries(api, admin, acc) if d["target"] == "endpoint")
    path = f"{base}/{mine['delivery_id']}/redeliver"
    for _ in range(5):
        assert api.call("POST", path, admin["token"]).status == 202
    limited = api.call("POST", path, admin["token"])
    assert limited.status == 429 and limited.json()["error"] == "rate_limited" and limited.headers["Retry-After"]
