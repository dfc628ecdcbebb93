"""Constant monitoring (§Risk): the scan (``runner``: new activity → per-account state → rules),
the rules (``rules/``, one module each with its cases), the state and context they read
(``state``, ``model``), the flags they raise and the reviews a high flag starts (``flags``,
``reviews``), where a run reads from (``scan``) and where a country comes from (``geo``).

The entry is ``risk.run_invocation`` (one invocation of the scan) and ``risk.run_scan``; both
resolve on first use, so code that only raises or reads flags does not load the rules and the scan.
"""

from __future__ import annotations

from wabaguard.lazy import entry

__getattr__ = entry("wabaguard.risk", {"run_scan": "runner", "run_invocation": "runner"})
