"""AWS clients and secrets, created lazily once per container.

One client per service, all from one botocore session, and the same DynamoDB client under every
PynamoDB model (``models.base.Item``) and for Secrets Manager under Powertools Parameters: a
botocore session and client cost ~40 ms each on a cold start, and PynamoDB would make one per
model class, Powertools one per provider (issue #26). The clients are botocore's own (what a
boto3 client is, without boto3's import: 13 ms of a cold start for nothing we use).

Endpoints come from the environment (``AWS_ENDPOINT_URL`` points boto3 at moto locally), never
from code paths here.
"""

from __future__ import annotations

import base64
import json
import threading
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

from wabaguard.config import settings

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


_making = threading.Lock()  # botocore's session is not thread-safe while it makes a client


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    """A cached low-level client for ``service`` (region and endpoint from the environment)."""
    with _making:
        return _session().create_client(service, config=_CONFIG)


@cache
def _secrets() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def secret(secret_id: str, transform: Any = None) -> Any:
    """A secret's value from Secrets Manager, cached 5 minutes (a rotated secret is picked up)."""
    return _secrets().get(secret_id, max_age=300, transform=transform)


def reset_clients() -> None:
    """Forget cached clients and secrets (tests switch between moto worlds)."""
    from aws_lambda_powertools.utilities import parameters

    client.cache_clear()
    _session.cache_clear()
    _secrets.cache_clear()
    parameters.clear_caches()
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.clear()


def pepper() -> bytes:
    """The OTP pepper from Secrets Manager (Powertools Parameters caches it for 5 minutes)."""
    value = secret(settings().pepper_secret_id)
    if not isinstance(value, str) or len(value) < 32:
        raise RuntimeError("the OTP pepper secret is missing or shorter than 32 characters")
    return value.encode("utf-8")


def kms_encrypt(plaintext: str, context: dict[str, str]) -> str:
    """Encrypt a small secret (a TOTP seed) under the template's key; base64 ciphertext."""
    out = client("kms").encrypt(
        KeyId=settings().totp_kms_key_id, Plaintext=plaintext.encode(), EncryptionContext=context
    )
    return base64.b64encode(out["CiphertextBlob"]).decode("ascii")


def kms_decrypt(ciphertext: str, context: dict[str, str]) -> str:
    out = client("kms").decrypt(CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=context)
    return bytes(out["Plaintext"]).decode()


def invoke_async(function_name: str, payload: dict[str, Any]) -> None:
    """Start another function without waiting for it (``InvocationType=Event``)."""
    client("lambda").invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload))
