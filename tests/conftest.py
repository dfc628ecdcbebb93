"""Shared test setup: environment before any import of the layer, and a moto world built from
template.yaml by the same code the local stack uses."""

from __future__ import annotations

import os

from devstack.cfn import Stack
from devstack.server import local_environment

REGION = "us-east-1"

# The layer reads table names at import: set the template's environment first.
os.environ.update(local_environment(None, REGION))
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(Stack(region=REGION).environment())
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Wabaguard"
os.environ["POWERTOOLS_SERVICE_NAME"] = "wabaguard"
