"""The built layer must carry bytecode Lambda will use: a checked-hash .pyc for every module.

Lambda's /opt is read-only, so a module without usable bytecode is compiled again on every cold
start (the layer as SAM's python3.11 builder made it: 2.2-3.0x a bare boto3 handler, issue #26).
"Usable" is strict: SAM's zip dates every file 1980-01-01, so a timestamp-checked .pyc (Python's
default) is stale on arrival. This checks, for every ``.py`` under the layer, that
``__pycache__`` holds a python3.11 .pyc whose PEP 552 header says "checked hash" and whose hash is
the source's. Run by `make iac` on what `sam build SharedLayer` made (layers/shared/Makefile).
"""

from __future__ import annotations

import sys
from importlib.util import MAGIC_NUMBER, cache_from_source, source_hash
from pathlib import Path

CHECKED_HASH = 0b11  # PEP 552 flags: hash-based, check the source


def problem(source: Path) -> str | None:
    """Why ``source``'s bytecode would not be used on Lambda, or None when it would."""
    cached = Path(cache_from_source(str(source)))
    if not cached.is_file():
        return "no bytecode"
    header = cached.read_bytes()[:16]
    if header[:4] != MAGIC_NUMBER:
        return "bytecode of another Python version"
    flags = int.from_bytes(header[4:8], "little")
    if flags != CHECKED_HASH:
        return "timestamp-checked bytecode (stale in a zip dated 1980)" if flags == 0 else f"flags {flags:#b}"
    if header[8:16] != source_hash(source.read_bytes()):
        return "bytecode of another version of the source"
    return None


def check(layer: Path) -> list[str]:
    """Every module of ``layer`` whose bytecode Lambda would not use, with the reason."""
    sources = sorted(layer.rglob("*.py"))
    if not sources:
        return [f"{layer}: no Python modules (is this the built layer?)"]
    return [f"{path.relative_to(layer)}: {why}" for path in sources if (why := problem(path))]


def main(argv: list[str]) -> int:
    layer = Path(argv[1]) if len(argv) > 1 else Path(".aws-sam/build/SharedLayer/python")
    problems = check(layer)
    for line in problems[:20]:
        print(line)
    if problems:
        print(f"{len(problems)} module(s) of {layer} would be compiled on every cold start")
        return 1
    print(f"{layer}: every module has checked-hash python3.11 bytecode")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
