"""Key actions (§API): the registry that declares each one (``registry``), how one runs —
prepared the same way for its challenge and for the request, then one transaction (``run``) — and
the families that say each in words and perform it: ``content`` (templates, profiles; ``facts``
words a template for its approval and its notice),
``integration`` (webhook URLs, API keys, the security webhook), ``people`` (users, authenticators,
tokens), ``partner`` (Partner changes).

The entry is this package: ``keyactions.challenge``, ``keyactions.run_approved``,
``keyactions.prepare``, and the protective or follow-up writes beside the key actions
(``revoke_api_key``, ``confirm_totp``, ``reset_totp_by_ops``). Names resolve on first use, so the
authorizer, which needs only ``keyactions.registry``, never loads pydantic or the performers.
"""

from __future__ import annotations

from wabaguard.lazy import entry

_ENTRY = {
    "challenge": "run",
    "prepare": "run",
    "perform": "run",
    "run_approved": "run",
    "revoke_api_key": "integration",
    "confirm_totp": "people",
    "reset_totp_by_ops": "people",
}


__getattr__ = entry("wabaguard.keyactions", _ENTRY)
