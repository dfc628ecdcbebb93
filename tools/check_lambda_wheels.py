"""Every compiled package of the layer must exist as a wheel the Lambda runtime can load.

The template's runtime is python3.11 on arm64, which runs on Amazon Linux 2 (glibc 2.26): `sam
build` takes manylinux2014 (glibc 2.17) wheels only. A dependency that ships newer wheels alone
(cbor2 6 has only manylinux_2_28 ones) passes every local test and breaks the first build for
AWS. This walks the layer's requirements as installed in the venv, and for each package with
compiled code asks pip for that exact version's manylinux2014 aarch64 wheel (one `pip download
--no-deps` each; pure-Python packages build anywhere). Run by `make iac`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
PLATFORM, PYTHON = "manylinux2014_aarch64", "3.11"
PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}  # the runtime's


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def closure() -> dict[str, str]:
    """Installed name → version of the layer's requirements and everything they require."""
    todo = [_name(line) for line in REQUIREMENTS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    seen: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an extra's requirement that is not installed is not in the layer either
        seen[name] = dist.version
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(_name(req))
    return seen


def compiled(name: str) -> bool:
    wheel = metadata.distribution(name).read_text("WHEEL") or ""
    return "Root-Is-Purelib: false" in wheel


def main() -> int:
    missing = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version in sorted(closure().items()):
            if name in PROVIDED or not compiled(name):
                continue
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
            cmd += ["--only-binary=:all:", "--platform", PLATFORM, "--python-version", PYTHON, "--implementation", "cp"]
            cmd += ["-d", tmp, f"{name}=={version}"]
            # S603: pip with our own arguments (package names come from installed metadata)
            if subprocess.run(cmd, capture_output=True, text=True, check=False).returncode != 0:  # noqa: S603
                missing.append(f"{name}=={version}")
            else:
                print(f"{name}=={version}: {PLATFORM} wheel found")
    if missing:
        print(f"no {PLATFORM} cp311 wheel (the python3.11 arm64 runtime cannot load it): {', '.join(missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
