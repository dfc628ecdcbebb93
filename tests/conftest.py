"""Shared test setup: environment before any import of the layer, and a moto world built from
template.yaml by the same code the local stack uses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack.cfn import Stack
from devstack.server import local_environment
from tests import moto_speed

REGION = "us-east-1"

# The layer reads table names at import: set the template's environment first.
os.environ.update(local_environment(None, REGION))
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(Stack(region=REGION).environment())
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Wabaguard"
os.environ["POWERTOOLS_SERVICE_NAME"] = "wabaguard"
moto_speed.install()


@pytest.fixture(autouse=True)
def _settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The layer reads its environment once (``config.settings``, cached per container); a test
    that changes a variable gets settings read anew, and the next test starts from a clean read."""
    from wabaguard.config import settings

    settings.cache_clear()
    set_env, del_env = monkeypatch.setenv, monkeypatch.delenv

    def setenv(name: str, value: str, prepend: str | None = None) -> None:
        set_env(name, value, prepend)
        settings.cache_clear()

    def delenv(name: str, raising: bool = True) -> None:
        del_env(name, raising)
        settings.cache_clear()

    monkeypatch.setenv = setenv  # type: ignore[method-assign]
    monkeypatch.delenv = delenv  # type: ignore[method-assign]
    yield
    settings.cache_clear()
