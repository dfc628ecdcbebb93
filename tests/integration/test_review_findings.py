"""Security review findings (issue 10) against moto and the in-process gateway: each test fails
on the code the review looked at."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from wabaguard import clock

from devstack.server import World
from tests.integration.conftest import Api
from tests.integration.test_risk import T0, history, ingest, scan


@pytest.fixture
def moving(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: state["now"].timestamp())
    return state


def _activity(account_id: str) -> list[Any]:
    from wabaguard.models import ActivityRecord, account_pk

    return list(ActivityRecord.query(account_pk(account_id)))


# ---------------------------------------------------------------- item 1 (and 11): location
def test_a_client_location_header_is_never_trusted_and_cannot_bloat_the_scan_state(
    world: World, demo: dict[str, Any], api: Api, moving: dict[str, Any]
) -> None:
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    for i in range(50):
        r = api.call(
            "PUT",
            f"/v1/phone-numbers/{pn}/webhook",
            admin["token"],
            {"url": "https://hooks.example.net/wa"},
            otp=(f"ch_fake{i}", "123456"),
            headers={"CloudFront-Viewer-Country": f"{i:02d}" + "Z" * 9000},
            ip="81.2.69.142",  # a GB address
        )
        assert r.status == 403
    records = _activity(acme["account_id"])
    assert records, "the failures were recorded"
    assert {r.country for r in records} == {"GB"}, "country comes from the source IP, never the header"
    out = scan(moving)
    assert out["failed_accounts"] == []
    from wabaguard.models import RiskState

    saved = RiskState.get(*RiskState.key(acme["account_id"]))
    assert "GB" in saved.state["access_countries"]
    assert all(len(c) == 2 for c in saved.state["access_countries"])


def test_honest_api_clients_get_a_country_from_their_ip(world: World, demo: dict[str, Any], api: Api) -> None:
    """Item 11: location rules used to see no country for clients that never send the header."""
    acme, admin = demo["accounts"][0], demo["accounts"][0]["users"][0]
    pn = acme["phone_numbers"][0]["phone_number_id"]
    from tests.integration.conftest import Api as _Api

    assert isinstance(api, _Api)
    ch = api.call(
        "POST",
        "/v1/otp/challenges",
        admin["token"],
        {"method": "PUT", "path": f"/v1/phone-numbers/{pn}/webhook", "body": {"url": "https://x.example.net/a"}},
        ip="95.173.136.70",
    )
    assert ch.status == 201
    code = api.last_code(admin["email"])
    r = api.call(
        "PUT",
        f"/v1/phone-numbers/{pn}/webhook",
        admin["token"],
        {"url": "https://x.example.net/a"},
        otp=(ch.json()["challenge_id"], code),
        ip="95.173.136.70",
    )
    assert r.status == 200, r.json()
    actions = [r for r in _activity(acme["account_id"]) if r.kind == "key_action"]
    assert [a.country for a in actions] == ["RU"]


def test_one_failing_account_never_stops_the_scan_of_the_others_and_is_retried(
    world: World, demo: dict[str, Any], moving: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import wabaguard.risk as risk

    acme, globex = demo["accounts"][0], demo["accounts"][1]
    ingest(history(acme["account_id"], acme["phone_numbers"][0]["phone_number_id"], days=1))
    ingest(history(globex["account_id"], globex["phone_numbers"][0]["phone_number_id"], days=1))
    real = risk.scan_account
    broken = {acme["account_id"]}

    def flaky(account_id: str, *args: Any, **kwargs: Any) -> Any:
        if account_id in broken:
            raise RuntimeError("state item too large")
        return real(account_id, *args, **kwargs)

    monkeypatch.setattr(risk, "scan_account", flaky)
    first = scan(moving)
    assert first["failed_accounts"] == [{"account_id": acme["account_id"], "error": "RuntimeError"}]
    from wabaguard.models import RiskState

    assert RiskState.get(*RiskState.key(globex["account_id"])).state["records"] == 10
    # Later runs read the failed account's records again, well after the overlap has passed.
    moving["now"] += timedelta(hours=1)
    assert scan(moving)["failed_accounts"] == [{"account_id": acme["account_id"], "error": "RuntimeError"}]
    broken.clear()
    third = scan(moving)
    assert third["failed_accounts"] == []
    assert RiskState.get(*RiskState.key(acme["account_id"])).state["records"] == 10, "nothing lost"
    assert RiskState.get(*RiskState.key(globex["account_id"])).state["records"] == 10, "nothing counted twice"
    assert scan(moving)["records_scanned"] == 0
