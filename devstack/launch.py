"""Start the local stack as a user would (``python -m devstack.server``) in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.cfn import ROOT
from devstack.server import free_port


@contextmanager
def running_stack(
    local_dir: Path,
    port: int | None = None,
    parameters: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    """Yields (base URL, demo.json, output lines); stops the stack with SIGTERM afterwards.
    ``parameters`` override template parameters (``WABAGUARD_PARAMETERS``), ``environment`` is
    what a user would put before ``make dev`` (``PARTNER_CHANGE_COOLING_OFF_S=…``)."""
    port = port or free_port()
    env = {
        **os.environ,
        "WABAGUARD_PARAMETERS": " ".join(f"{k}={v}" for k, v in (parameters or {}).items()),
        "PORT": str(port),
        "WABAGUARD_LOCAL_DIR": str(local_dir),
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}",
        # as `make dev` does: receivers on 127.0.0.1 may be security webhooks (§Local)
        "ALLOW_LOOPBACK_WEBHOOKS": os.environ.get("ALLOW_LOOPBACK_WEBHOOKS", "1"),
        **(environment or {}),
    }
    for key in [k for k in env if k.startswith("AWS_") or k.endswith("_TABLE")]:
        env.pop(key)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    ready = f"wabaguard local stack ready on http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("wabaguard local stack ready"):
            break
    if not output or output[-1].strip() != ready:
        proc.kill()
        raise RuntimeError("local stack did not start:\n" + "".join(output))

    def drain() -> None:
        for line in proc.stdout or []:
            output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}", json.loads((local_dir / "demo.json").read_text()), output
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)  # idle it stops in ~2 s; right after the simulation's load, ~15 s
        except subprocess.TimeoutExpired:
            proc.kill()
            raise RuntimeError("local stack did not stop within 60 s:\n" + "".join(output[-60:])) from None
    if proc.returncode != 0:
        raise RuntimeError("local stack exited with an error:\n" + "".join(output[-40:]))
