"""Constant monitoring (§Risk): the scan (``runner``: new activity → per-account state → rules),
the rules (``rules/``, one module each with its cases), the state and context they read
(``state``, ``model``), the flags they raise and the reviews a high flag starts (``flags``,
``reviews``), where a run reads from (``scan``) and where a country comes from (``geo``).

The entry is ``risk.run_invocation`` (one invocation of the scan) and ``risk.run_scan``; both
resolve on first use, so code that only raises or reads flags does not load the rules and the scan.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("run_scan", "run_invocation"):
        return getattr(import_module("wabaguard.risk.runner"), name)
    raise AttributeError(f"module 'wabaguard.risk' has no attribute {name!r}")
