"""AWS clients and secrets, created lazily once per container.

Endpoints come from the environment (``AWS_ENDPOINT_URL`` points boto3 at moto locally), never
from code paths here.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from wabaguard.config import settings

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str) -> Any:
    """A cached low-level client for ``service``."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients and secrets (tests switch between moto worlds)."""
    from aws_lambda_powertools.utilities import parameters

    client.cache_clear()
    parameters.clear_caches()
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.clear()


def pepper() -> bytes:
    """The OTP pepper from Secrets Manager (Powertools Parameters caches it for 5 minutes)."""
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(settings().pepper_secret_id, max_age=300)
    if not isinstance(secret, str) or len(secret) < 32:
        raise RuntimeError("the OTP pepper secret is missing or shorter than 32 characters")
    return secret.encode("utf-8")


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
