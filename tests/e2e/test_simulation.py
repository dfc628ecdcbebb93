"""The simulator's scenarios through the local stack: every attack family detected, benign quiet —
whatever way the records arrive (issue 12: verdicts do not depend on arrival batching). Each run
has a stack of its own (``fresh_stack``): their thousands of records stay out of the other modules'."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tools.simulate import ARRIVALS, BENIGN, FAMILIES, HONEST, WATCH_ATTACKS, WATCH_BENIGN, simulate


def test_simulated_attacks_are_detected_and_benign_accounts_stay_quiet(fresh_stack: Stack) -> None:
    report = simulate(
        fresh_stack.base, seed=3, per_benign=1, per_attack=1, days=5, ops_token=fresh_stack.demo["ops"]["token"],
        partner=fresh_stack.demo["partner"],
    )  # fmt: skip
    for family in (*FAMILIES, *WATCH_ATTACKS):  # takeovers made only at Meta are found by the WABA watch
        assert report[family]["recall"] == 1.0, (family, report[family])
    # honest mistakes made through the API, changes approved in wabaguard and Meta's own moves stay quiet
    for scenario in (*BENIGN, *HONEST, *WATCH_BENIGN):
        assert report[scenario]["specificity"] == 1.0, (scenario, report[scenario])
    assert report["_total"]["recall"] >= 0.95 and report["_total"]["benign_clean"] >= 0.97


@pytest.mark.parametrize("arrival", [a for a in ARRIVALS if a != "incremental"])
def test_every_arrival_mode_gives_the_same_verdicts(fresh_stack: Stack, arrival: str) -> None:
    seed = 10 + ARRIVALS.index(arrival)  # each mode its own accounts (and its own stack)
    report = simulate(fresh_stack.base, seed=seed, per_benign=1, per_attack=1, days=4, arrival=arrival)
    for family in FAMILIES:
        assert report[family]["recall"] == 1.0, (arrival, family, report[family])
    for scenario in BENIGN:
        assert report[scenario]["specificity"] == 1.0, (arrival, scenario, report[scenario])
