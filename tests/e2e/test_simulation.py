"""The simulator's scenarios through the local stack: every attack family detected, benign quiet —
whatever way the records arrive (issue 12: verdicts do not depend on arrival batching)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tools.simulate import ARRIVALS, BENIGN, FAMILIES, HONEST, simulate


def test_simulated_attacks_are_detected_and_benign_accounts_stay_quiet(stack: Stack) -> None:
    report = simulate(stack.base, seed=3, per_benign=1, per_attack=1, days=5, ops_token=stack.demo["ops"]["token"])
    for family in FAMILIES:
        assert report[family]["recall"] == 1.0, (family, report[family])
    for scenario in (*BENIGN, *HONEST):  # honest mistakes made through the API stay quiet too
        assert report[scenario]["specificity"] == 1.0, (scenario, report[scenario])
    assert report["_total"]["recall"] >= 0.95 and report["_total"]["benign_clean"] >= 0.97


@pytest.mark.parametrize("arrival", [a for a in ARRIVALS if a != "incremental"])
def test_every_arrival_mode_gives_the_same_verdicts(stack: Stack, arrival: str) -> None:
    seed = 10 + ARRIVALS.index(arrival)  # each mode its own accounts in the shared stack
    report = simulate(stack.base, seed=seed, per_benign=1, per_attack=1, days=4, arrival=arrival)
    for family in FAMILIES:
        assert report[family]["recall"] == 1.0, (arrival, family, report[family])
    for scenario in BENIGN:
        assert report[scenario]["specificity"] == 1.0, (arrival, scenario, report[scenario])
