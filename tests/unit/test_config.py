"""Configuration in one place (issue 21): only ``wabaguard/config.py`` reads the environment, and
every variable it reads comes from template.yaml — or is Lambda's own, or a local-only switch."""

from __future__ import annotations

import re
from pathlib import Path

from devstack.cfn import ROOT, Stack

LAYER = Path(ROOT, "layers/shared/wabaguard")
LAMBDA_OWN = {"AWS_REGION", "AWS_DEFAULT_REGION"}
# switches the local stack and tests set; a deployment keeps the defaults (GRAPH_TIMEOUT_S: 10 s)
LOCAL_ONLY = {"RETRY_DELAY_SCALE", "ALLOW_LOOPBACK_WEBHOOKS", "WABAGUARD_ALLOW_TEST_EMAIL_DOMAINS", "GRAPH_TIMEOUT_S"}


def read_by_config() -> set[str]:
    text = (LAYER / "config.py").read_text()
    return set(re.findall(r'(?:_str|_int|_float|_flag|_opt|os\.environ\.get)\("([A-Z][A-Z0-9_]+)"', text))


def test_only_config_reads_the_environment() -> None:
    readers = [
        str(p.relative_to(LAYER))
        for p in LAYER.rglob("*.py")
        if p.name != "config.py" and re.search(r"os\.environ|os\.getenv", p.read_text())
    ]
    assert readers == []
    handlers = [p for p in Path(ROOT, "functions").rglob("*.py") if "os.environ" in p.read_text()]
    assert handlers == []


def test_every_setting_comes_from_the_template() -> None:
    stack = Stack()
    set_by_template: set[str] = set()
    for spec in stack.functions().values():
        set_by_template |= set(spec.environment)
    missing = read_by_config() - set_by_template - LAMBDA_OWN - LOCAL_ONLY
    assert missing == set()
    assert read_by_config() >= {"ACCOUNTS_TABLE", "PARTNER_CHANGE_COOLING_OFF_S", "GRAPH_API_BASE_URL"}
