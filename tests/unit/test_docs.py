"""The design lives in the repository (issue 21): every section sign the code cites is a heading of
``docs/``, so a reader can follow a comment to the promise it keeps."""

from __future__ import annotations

import re
from pathlib import Path

from devstack.cfn import ROOT

HEADINGS = {
    m.group(1).strip()
    for doc in Path(ROOT, "docs").glob("*.md")
    for m in re.finditer(r"^#+ (§[^\n]+)$", doc.read_text(), re.M)
}


def cited() -> dict[str, str]:
    out = {}
    for folder in ("layers", "functions", "devstack", "tools", "tests"):
        for path in Path(ROOT, folder).rglob("*.py"):
            for m in re.finditer(r"§[A-Z][A-Za-z]*(?: [a-z][a-z]+)*", path.read_text()):
                out[m.group(0)] = str(path.relative_to(ROOT))
    return out


def test_every_cited_section_is_a_heading_of_the_docs() -> None:
    missing = {}
    for section, where in cited().items():
        # "§OTP reasons" cites §OTP; "§Security webhooks" is a two-word name
        if not any(section == h or section.startswith(h + " ") for h in HEADINGS):
            missing[section] = where
    assert missing == {}
    assert {"§API", "§OTP", "§Partner change", "§Security webhooks", "§Local"} <= HEADINGS
