"""§API honest mistakes (issue 11, review item 8): a typo or a retry is not an attack.

A body other than the approved one spends nothing; invalid JSON neither; the same user repeating a
request that succeeded gets the same answer and nothing happens twice; only other uses are alarms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from devstack.server import World
from tests.integration.conftest import Api
from tests.integration.test_risk import scan

WEBHOOK = {"url": "https://hooks.example.net/wa"}


def _challenge(api: Api, user: dict[str, Any], method: str, path: str, body: Any) -> tuple[str, str]:
    resp = api.challenge(user["token"], method, path, body)
    assert resp.status == 201, resp.json()
    return resp.json()["challenge_id"], api.last_code(user["email"])


def _alarms(api: Api) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if "used twice" in m["subject"]]


def test_a_typo_in_the_body_spends_nothing_and_the_approved_body_still_works(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    admin = acme["users"][0]
    path = f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"
    ch, code = _challenge(api, admin, "PUT", path, WEBHOOK)
    typo = api.call("PUT", path, admin["token"], {"url": "https://hooks.example.net/wb"}, otp=(ch, code))
    assert typo.status == 403 and typo.json()["error"] == "otp_mismatch" and typo.json()["attempts_left"] == 4
    bad_json = api.call("PUT", path, admin["token"], raw=b'{"url": ', otp=(ch, code))
    assert bad_json.status == 400 and bad_json.json()["error"] == "invalid_request"
    ok = api.call("PUT", path, admin["token"], WEBHOOK, otp=(ch, code))
    assert ok.status == 200 and ok.json()["url"] == WEBHOOK["url"]
    assert not _alarms(api)
    moving["now"] += timedelta(minutes=5)
    assert scan(moving)["flags"] == [], "honest mistakes raise no flag"


def test_mismatched_bodies_count_toward_the_attempts(world: World, demo: dict[str, Any], api: Api) -> None:
    acme = demo["accounts"][0]
    admin = acme["users"][0]
    path = f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"
    ch, code = _challenge(api, admin, "PUT", path, WEBHOOK)
    for left in (4, 3, 2, 1):
        other = api.call("PUT", path, admin["token"], {"url": f"https://x{left}.example.net/"}, otp=(ch, code))
        assert other.json()["attempts_left"] == left
    last = api.call("PUT", path, admin["token"], {"url": "https://x0.example.net/"}, otp=(ch, code))
    assert last.status == 403 and last.json()["error"] == "otp_locked"
    assert api.call("PUT", path, admin["token"], WEBHOOK, otp=(ch, code)).json()["error"] == "otp_locked"


def test_a_client_retrying_a_success_gets_the_same_answer_and_nothing_happens_twice(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    admin = acme["users"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    path = f"/v1/phone-numbers/{pn}/api-keys"
    ch, code = _challenge(api, admin, "POST", path, {"name": "crm"})
    first = api.call("POST", path, admin["token"], {"name": "crm"}, otp=(ch, code))
    assert first.status == 201
    moving["now"] += timedelta(minutes=9)
    retry = api.call("POST", path, admin["token"], {"name": "crm"}, otp=(ch, code))
    assert retry.status == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json(), "the key shown once is shown again to the same retry"
    keys = api.call("GET", f"/v1/phone-numbers/{pn}", admin["token"]).json()["api_keys"]
    assert len(keys) == 1
    world.pump.pump()
    notices = [m for m in api.outbox() if m["subject"].startswith("[wabaguard] API key") and m["to"] == admin["email"]]
    assert len(notices) == 1
    assert not _alarms(api)
    from wabaguard.models import Challenge, challenge_pk

    stored = Challenge.get(challenge_pk(ch))
    assert stored.answer_enc and not stored.answer and first.json()["api_key"] not in str(stored.answer_enc)
    moving["now"] += timedelta(minutes=1)
    assert scan(moving)["flags"] == []


def test_a_retry_after_ten_minutes_or_with_another_code_is_a_replay(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, Any]
) -> None:
    acme = demo["accounts"][0]
    admin = acme["users"][0]
    path = f"/v1/phone-numbers/{acme['phone_numbers'][0]['phone_number_id']}/webhook"
    ch, code = _challenge(api, admin, "PUT", path, WEBHOOK)
    assert api.call("PUT", path, admin["token"], WEBHOOK, otp=(ch, code)).status == 200
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert api.call("PUT", path, admin["token"], WEBHOOK, otp=(ch, wrong)).json()["error"] == "otp_used"
    moving["now"] += timedelta(minutes=11)
    late = api.call("PUT", path, admin["token"], WEBHOOK, otp=(ch, code))
    assert late.status == 403 and late.json()["error"] == "otp_used"
    assert len(_alarms(api)) == 1, "the user is warned once per challenge"
    assert [f["rule"] for f in scan(moving)["flags"]] == ["otp_failures"]
