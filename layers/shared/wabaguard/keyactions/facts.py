"""What a key action's target says, in the words people read: shared by its approval
(``content``) and its notice (``notices.notify``) — the notifier loads this, not the performers
and the queries they import (issue #26)."""

from __future__ import annotations

from typing import Any

from wabaguard.urls import display_url


def template_facts(name: str, language: str, category: str, components: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What a template says, for the person approving it: a template is what customers will read."""
    facts = [("Template name", name), ("Language", language), ("Category", category)]
    for comp in components:
        kind = str(comp.get("type", "")).upper()
        if kind in ("HEADER", "BODY", "FOOTER") and isinstance(comp.get("text"), str):
            facts.append((f"{kind.title()} text", comp["text"][:1024]))
        elif kind == "BUTTONS" and isinstance(comp.get("buttons"), list):
            labels = [
                f"{b.get('text', '?')}" + (f" → {display_url(str(b['url']))}" if b.get("url") else "")
                for b in comp["buttons"]
                if isinstance(b, dict)
            ]
            facts.append(("Buttons", "; ".join(labels)[:1024]))
    return facts
