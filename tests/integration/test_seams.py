"""Where features meet (issue 20): the security review's findings and the newcomer's breakages,
one test (or a few) per item, each failing on the main before the fix."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from devstack.server import World
from tests.integration.conftest import Api
from tests.integration.test_onboarding import CLIENT

PCR = "/v1/accounts/{}/partner-change-requests"


def notices_to(api: Api, to: str, words: str) -> list[dict[str, Any]]:
    return [m for m in api.outbox() if m["to"] == to and words in m["subject"]]


# ------------------------------------------------------------------ 13: one poison record
def test_a_failed_onboarding_writes_nothing_and_later_changes_are_still_notified(
    api: Api, world: World, demo: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    """The newcomer's sequence: onboard, onboard the same WABA again (409), then a change — its
    notices arrive. moto's rollback of a failed transaction used to orphan the stream's shard."""
    assert api.call("POST", "/v1/ops/accounts", world.ops_token, CLIENT).status == 201
    world.pump.pump()
    again = api.call("POST", "/v1/ops/accounts", world.ops_token, {**CLIENT, "name": "Copy"})
    assert again.status == 409
    world.pump.pump()
    assert world.pump.dead_lettered == 0
    resp = api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "Still told"})
    assert resp.status == 200
    world.pump.pump()
    assert notices_to(api, admin["email"], "profile"), [m["subject"] for m in api.outbox()]
    from wabaguard.models import Account

    names = [a.name for a in Account.scan() if isinstance(a, Account)]
    assert "Copy" not in names  # nothing of the failed onboarding was written


def test_a_stream_record_about_something_gone_is_skipped_and_counted(
    api: Api, world: World, demo: dict[str, Any], admin: dict[str, Any], pn: str
) -> None:
    """A record naming an account that no longer exists is skipped (never retried forever), and
    the changes after it are notified."""
    from devstack.seed import create_account
    from wabaguard.models import Account, PhoneNumber, system_change
    from wabaguard.security import new_id

    ghost = create_account("Ghost")
    phone = PhoneNumber(
        *PhoneNumber.key(new_id("pn")),
        phone_number_id="pn_ghost",
        account_id=ghost.account_id,
        display="+1 555 0000",
        profile={},
    )
    phone.save()
    Account(*Account.key(ghost.account_id)).delete()
    phone.update(actions=[PhoneNumber.last_change.set(system_change("profile_updated", _now(), "test"))])
    assert api.approved(admin, "PATCH", f"/v1/phone-numbers/{pn}/profile", {"about": "After"}).status == 200
    world.pump.pump()
    assert world.pump.dead_lettered == 0
    assert notices_to(api, admin["email"], "profile")
    skipped = [e for name, e in world.pump.deliveries if name == "ChangeNotifierFunction"]
    assert skipped  # delivered, not retried: the skip is counted in the notifier's metrics


def _now() -> Any:
    from wabaguard import clock

    return clock.utcnow()


__all__ = ["PCR", "re", "timedelta"]
