"""The simulator's scenarios through the local stack: every attack family detected, benign quiet."""

from __future__ import annotations

from tests.e2e.conftest import Stack
from tools.simulate import BENIGN, FAMILIES, HONEST, simulate


def test_simulated_attacks_are_detected_and_benign_accounts_stay_quiet(stack: Stack) -> None:
    report = simulate(stack.base, seed=3, per_benign=3, per_attack=2, days=10, ops_token=stack.demo["ops"]["token"])
    for family in FAMILIES:
        assert report[family]["recall"] == 1.0, (family, report[family])
    for scenario in (*BENIGN, *HONEST):  # honest mistakes made through the API stay quiet too
        assert report[scenario]["specificity"] == 1.0, (scenario, report[scenario])
    assert report["_total"]["recall"] >= 0.95 and report["_total"]["benign_clean"] >= 0.97
