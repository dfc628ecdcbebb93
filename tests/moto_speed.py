"""Two costs of a fresh moto world that say nothing about wabaguard, taken out of the test suite
(issue #26: about half of the integration suite's time was building a world per test).

- **Clients**: every world resets the layer's cached clients and PynamoDB's connections, and the
  local stack makes its own, so each test built ~20 botocore clients (~15 ms each, mostly parsing
  the endpoint rule set). moto intercepts any client made after it was imported, and a client
  reused in a new ``mock_aws`` sees that world's fresh state (outside one it reaches nothing), so
  one client per (service, region, endpoint, credentials, options) serves every world (moto starts
  each world with a new default session; the credentials are the environment's, moto's own).
- **KMS keys**: moto generates an RSA-2048 private key for every KMS key it creates, symmetric ones
  included (``moto.kms.utils.generate_private_key``), ~100 ms per world for a key the tests never
  sign with. One key per key spec is generated and shared.

Production code is untouched: only the test process installs these (``tests/conftest.py``).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

_lock = threading.Lock()
_installed: list[bool] = []


def install() -> None:
    with _lock:
        if _installed:
            return
        _installed.append(True)
        _share_clients()
        _share_kms_key_material()


def _share_clients() -> None:
    import botocore.session

    original = botocore.session.Session.create_client
    made: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(original)
    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        options = tuple(sorted((k, repr(v)) for k, v in getattr(config, "_user_provided_options", {}).items()))
        key = (
            service_name,
            repr(args),
            repr(sorted((k, v) for k, v in kwargs.items() if k != "config")),
            options,
            self.get_config_variable("region"),
            os.environ.get("AWS_ENDPOINT_URL"),
            os.environ.get("AWS_ACCESS_KEY_ID"),
        )
        with _lock:
            if key not in made:
                made[key] = original(self, service_name, *args, **kwargs)
            return made[key]

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


def _share_kms_key_material() -> None:
    from moto.kms import models, utils

    original = utils.generate_private_key

    @functools.cache
    def generate_private_key(key_spec: str) -> Any:
        return original(key_spec)

    models.generate_private_key = generate_private_key  # type: ignore[assignment]
